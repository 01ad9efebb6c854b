"""Straight-line decoders and encoders of the measurement arrays (CellVoltages,
CellTemperatures), made from the DBC when the codec is built.

These are most of the pack bus's frames. The general path goes through a dict of every
signal; these are one function per message with the shifts, masks, ranges, invalid markers
and resolutions of its signals written in: the hot path of the slaves, the master, the
lockstep harness and the log tools. Same values and bytes as the general path (tests compare
them on random payloads and values). Big-endian or signed elements are left to the general
path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbc.layout import MessageLayout

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]  # typed frame -> payload


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


def compile_array_encoder(layout: MessageLayout, prefix: str, first_field: str,
                          values_field: str) -> Encoder | None:
    """A function frame -> payload with the E2E bytes zero (the frame's first index and
    values are its attributes ``first_field`` and ``values_field``), as the general path
    gives it: values saturated into the signal's range, None as the invalid marker,
    missing values at the end invalid. A group that does not start at ``first`` or too many
    values is a ValueError; so is a NaN, as in the general path."""
    encoder = layout.encoder
    mux = next((f for f in encoder.plain if f.name == layout.multiplexer), None)
    if mux is None or mux.big_endian:
        return None
    constants: dict[str, Any] = {"round": round, "divmod": divmod}
    lines = ["def encode(frame):", f"    first, values = frame.{first_field}, frame.{values_field}",
             "    count = len(values)"]
    for page, slots in layout.array_slots(prefix).items():
        fields = {f.name: f for f in encoder.pages.get(page, ())}
        lines += [f"    if first == {slots[0].index}:",
                  f"        if count > {len(slots)}:",
                  f"            raise ValueError(f'{{count}} values for a group of {len(slots)}')",
                  f"        if count < {len(slots)}:",
                  f"            values = tuple(values) + (None,) * ({len(slots)} - count)",
                  f"        {', '.join(f'v{k}' for k in range(len(slots)))}, = values",
                  f"        raw = {(page & mux.mask) << mux.shift}"]
        for k, slot in enumerate(slots):
            f = fields.get(slot.signal)
            invalid = layout.invalid_raw(slot.signal)
            if f is None or f.big_endian or invalid is None:
                return None
            span = layout.range_of(slot.signal)
            constants[f"lo{page}_{k}"], constants[f"hi{page}_{k}"] = span.minimum, span.maximum
            lines.append(f"        if v{k} is None:")
            lines.append(f"            raw |= {(invalid & f.mask) << f.shift}")
            lines.append("        else:")
            lines.append(f"            c = v{k} if lo{page}_{k} <= v{k} <= hi{page}_{k} else "
                         f"min(max(v{k}, lo{page}_{k}), hi{page}_{k})")
            if f.identity:
                lines.append(f"            raw |= (round(c) & {f.mask}) << {f.shift}")
            elif f.scale == 1:  # the general quotient and remainder come to this, exactly
                constants[f"o{page}_{k}"] = f.offset
                lines.append(f"            raw |= (round(c - o{page}_{k}) & {f.mask}) << {f.shift}")
            else:
                constants[f"s{page}_{k}"], constants[f"o{page}_{k}"] = f.scale, f.offset
                lines += [f"            q, r = divmod(c - o{page}_{k}, s{page}_{k})",
                          f"            raw |= (round(q if r == 0 else (c - o{page}_{k}) / "
                          f"s{page}_{k}) & {f.mask}) << {f.shift}"]
        lines.append(f"        return raw.to_bytes({layout.length}, 'little')")
    lines.append("    raise ValueError(f'no group starts at element {first}')")
    exec("\n".join(lines), constants)  # our own text, made from the DBC
    encode: Encoder = constants["encode"]
    return encode
