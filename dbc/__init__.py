"""The wire contract: DBC files and the only code that touches cantools.

Loading (`database`, `cached`), the typed frames as a data model (`frames`, `ivt`,
`vehicle_frames`, ...), every path from a frame to bytes (`codec/`: the codec, the message
layouts, the bit-level plans, the array and direct paths), E2E protection (`e2e`, `crc`),
sender/receiver state (`endpoint`) and bus-load arithmetic (`busload`).
"""

# the module the compiled build (bms/compiled_build.py) writes the array codecs' functions into
# (dbc/codec/arrays.py); here so that neither needs the other to know it
GENERATED_CODECS_MODULE = "bms_compiled_codecs"
