"""Shared runtime of the BMS processes: settings, the CAN port, the `bms` command line.

The compiled build of the hot modules (`bms.compiled`) is switched on by the entry points
(the `bms` command, `python -m bench`, the test suite's conftest), never by importing a
package: `bms.compiled.use_build()` before the first hot module is imported."""
