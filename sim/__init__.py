"""The world around the BMS: cell physics, current sensor, virtual-pack launcher, live view."""

import bms  # noqa: F401  (first: serves the compiled build, see bms/compiled.py)
