"""Every path between a typed frame and its bytes, in one place.

- `frames_codec`: `Codec`, the bus's codec (decode: id and bytes -> module and typed frame;
  encode: the reverse with the E2E protection), and the buses' codecs (the inverter's per
  protocol);
- `layout`: what the DBC says of one message (signals, scaling, ranges, multiplexer, E2E),
  and its bit-level plans;
- `fast_decode`, `fast_encode`: bytes <-> signals from those plans, without cantools;
- `arrays`: one generated function per measurement array (cell voltages, temperatures);
- `direct`: which frames take a direct path (the arrays, ModuleStatus) and the functions.

`dbc/frames.py` and the other frame modules are the typed data model only: fields and their
conversion to and from the DBC's signals by name. The compiled build (docs/compiled.md)
compiles these modules; they are written for it once, here.
"""

from dbc.codec.frames_codec import (
    DECODE_CACHE_SIZE,
    CanFrame,
    Codec,
    Decoded,
    inverter_codec,
    pack_codec,
    sim_codec,
    vehicle_codec,
)

__all__ = ["DECODE_CACHE_SIZE", "CanFrame", "Codec", "Decoded", "inverter_codec", "pack_codec",
           "sim_codec", "vehicle_codec"]
