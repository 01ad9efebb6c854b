"""CAN log tools: record, decode, plot, replay onto a bus, and re-simulate the master."""

import bms  # noqa: F401  (first: serves the compiled build, see bms/compiled.py)
