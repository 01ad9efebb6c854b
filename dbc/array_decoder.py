"""Straight-line decoders of the measurement arrays (CellVoltages, CellTemperatures), made
from the DBC when the codec is built.

These are most of the pack bus's frames. The general path decodes every signal into a dict,
then reads the typed frame's elements out of it; this one is one function per message with
the shifts, masks, invalid markers and resolutions of its signals written in, for the
master's hot path and the log tools. Same values as the general path (a test compares them
on random payloads). Big-endian or signed elements are left to the general path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbc.layout import MessageLayout

Decoder = Callable[[bytes], Any]


def compile_array_decoder(layout: MessageLayout, prefix: str, make: Callable[..., Any],
                          integer: bool) -> Decoder | None:
    """A function bytes -> ``make(first_index, values)``; None when the layout has parts
    this does not cover. ``integer``: the values are ints (``int()`` of the physical)."""
    fast = layout.fast
    mux = fast.multiplexer
    if mux is None or mux.big_endian or mux.sign_bit:
        return None
    constants: dict[str, Any] = {"from_bytes": int.from_bytes, "make": make}
    lines = ["def decode(data):",
             "    raw = from_bytes(data, 'little')",
             f"    page = (raw >> {mux.shift}) & {mux.mask}"]
    for page, slots in layout.array_slots(prefix).items():
        fields = {f.name: f for f in fast.pages.get(page, ())}
        lines.append(f"    if page == {page}:")
        values = []
        for k, slot in enumerate(slots):
            f = fields.get(slot.signal)
            if f is None or f.big_endian or f.sign_bit:
                return None
            lines.append(f"        r{k} = (raw >> {f.shift}) & {f.mask}")
            value = f"r{k}"
            if not f.identity:
                constants[f"s{page}_{k}"], constants[f"o{page}_{k}"] = f.scale, f.offset
                value = f"r{k} * s{page}_{k} + o{page}_{k}"
            if slot.decimals:
                value = f"round({value}, {slot.decimals})"
            if integer:
                value = f"int({value})"
            invalid = layout.invalid_raw(slot.signal)
            values.append(value if invalid is None else f"None if r{k} == {invalid} else {value}")
        lines.append(f"        return make({slots[0].index}, ({', '.join(values)},))")
    lines.append("    raise KeyError(f'no group {page}')")
    exec("\n".join(lines), constants)  # our own text, made from the DBC
    decode: Decoder = constants["decode"]
    return decode
