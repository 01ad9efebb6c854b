"""The pack controller: a pure core (registry, pack state) and its async shell."""

import bms  # noqa: F401  (first: serves the compiled build, see bms/compiled.py)
