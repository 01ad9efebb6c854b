"""The wire contract: DBC files and the only code that touches cantools.

Loading (`database`), per-message layout facts (`layout`), typed frames (`frames`, `ivt`),
encode/decode (`codec`), E2E protection (`e2e`, `crc`), sender/receiver state (`endpoint`)
and bus-load arithmetic (`busload`).
"""

import bms  # noqa: F401  (first: serves the compiled build, see bms/compiled.py)
