"""Shared runtime of the BMS processes: settings, the CAN port, the `bms` command line.

Importing it serves the compiled build of the hot modules when it is fresh (`bms.compiled`);
every other package of the project imports it first for that reason."""

from bms.compiled import use_build

use_build()
