"""The wire contract: DBC files and the only code that touches cantools.

Loading (`database`), per-message layout facts (`layout`), typed frames (`frames`, `ivt`),
encode/decode (`codec`), E2E protection (`e2e`, `crc`), sender/receiver state (`endpoint`)
and bus-load arithmetic (`busload`).
"""

# the module the compiled build (bms/compiled.py) writes the array codecs' functions into
# (dbc/array_codec.py); here so that neither needs the other to know it
GENERATED_CODECS_MODULE = "bms_compiled_codecs"
