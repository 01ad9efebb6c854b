"""The module process: AFE backends, the measurement and balancing core, its async shell."""

import bms  # noqa: F401  (first: serves the compiled build, see bms/compiled.py)
