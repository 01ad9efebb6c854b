"""Straight-line decoders and encoders of the measurement arrays (CellVoltages,
CellTemperatures), written from the DBC when the codec is built.

These are most of the pack bus's frames. The general path goes through a dict of every
signal; these are one function per message with the shifts, masks, ranges, invalid markers
and resolutions of its signals written in as literals: the hot path of the slaves, the
master, the lockstep harness and the log tools. Each signal is read from and written into
the bytes it spans, as small integers. Same values and bytes as the general path (tests
compare them on random payloads and values). Big-endian or signed elements are left to the
general path.

The compiled build (`bms.compiled`) writes the same functions into a module of its own and
compiles it with the rest, each function under its source text: a function whose text is
there is taken from it, any other (a DBC changed since the build, plain Python) is made here
with ``exec``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbc import GENERATED_CODECS_MODULE
from dbc.codec.layout import MessageLayout

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]  # typed frame -> payload
BITS_PER_BYTE = 8
COMPILED_MODULE = GENERATED_CODECS_MODULE  # what the compiled build calls its module of these

# every function made in this process: its source text -> (function name, frame class)
sources: dict[str, tuple[str, type | None]] = {}
_compiled: dict[str, Callable[..., Any]] | None = None


def _compiled_functions() -> dict[str, Callable[..., Any]]:
    """The compiled build's functions by their source text; none without a build."""
    global _compiled
    if _compiled is None:
        try:
            module = __import__(COMPILED_MODULE)
            _compiled = dict(module.FUNCTIONS)
        except ImportError:  # plain Python: there is no such module
            _compiled = {}
    return _compiled


def _function(source: str, name: str, make: type | None) -> Callable[..., Any]:
    sources[source] = (name, make)
    compiled = _compiled_functions().get(source)
    if compiled is not None:
        return compiled
    # round_int: the builtin here, its machine arithmetic twin where compiled (bms.rounding)
    namespace: dict[str, Any] = {"Any": Any, "make": make, "round_int": round}
    exec(source, namespace)  # our own text, made from the DBC
    function: Callable[..., Any] = namespace[name]
    return function


def _literal(value: float) -> str:
    """The exact value as source text (a float's repr reads back as the same float)."""
    return f"({value!r})"


def _spans(shift: int, width: int) -> list[tuple[int, int, int, int]]:
    """(byte, lowest bit in that byte, bit count, position in the signal) of every byte a
    little-endian signal of ``width`` bits from bit ``shift`` of the payload covers."""
    spans = []
    for byte in range(shift // BITS_PER_BYTE, (shift + width - 1) // BITS_PER_BYTE + 1):
        low = max(shift, byte * BITS_PER_BYTE)
        high = min(shift + width, (byte + 1) * BITS_PER_BYTE)
        spans.append((byte, low - byte * BITS_PER_BYTE, high - low, low - shift))
    return spans


def read_expression(shift: int, mask: int) -> str:
    """Source of the raw value of the signal at ``shift`` (``mask``: its width) in ``data``."""
    parts = []
    for byte, bit, count, position in _spans(shift, mask.bit_length()):
        part = f"data[{byte}]"
        if bit:
            part = f"({part} >> {bit})"
        if bit + count < BITS_PER_BYTE:
            part = f"({part} & {(1 << count) - 1})"
        if position:
            part = f"({part} << {position})"
        parts.append(part)
    return " | ".join(parts)


def payload_expression(length: int, constant: int, fields: list[tuple[str, int, int]]) -> str:
    """Source of the payload: ``constant`` (the bits every payload has) with each
    ``(name, shift, mask)`` field's raw value (already masked) written into its bytes."""
    parts: list[list[str]] = [[] for _ in range(length)]
    for name, shift, mask in fields:
        width = mask.bit_length()
        for byte, bit, count, position in _spans(shift, width):
            part = f"({name} >> {position})" if position else name
            if position + count < width:
                part = f"({part} & {(1 << count) - 1})"
            if bit:
                part = f"({part} << {bit})"
            parts[byte].append(part)
    constants = constant.to_bytes(length, "little")
    return "bytes((" + ", ".join(
        " | ".join(part + ([str(constants[byte])] if constants[byte] else [])) or "0"
        for byte, part in enumerate(parts)) + ",))"


def compile_array_decoder(layout: MessageLayout, prefix: str, make: type,
                          integer: bool) -> Decoder | None:
    """A function bytes -> ``make(first_index, values)``; None when the layout has parts
    this does not cover. ``integer``: the values are ints (``int()`` of the physical)."""
    fast = layout.fast
    mux = fast.multiplexer
    if mux is None or mux.big_endian or mux.sign_bit:
        return None
    name = f"decode_{layout.name}"
    lines = [f"def {name}(data: bytes) -> Any:",
             f"    page = {read_expression(mux.shift, mux.mask)}"]
    for page, slots in layout.array_slots(prefix).items():
        fields = {f.name: f for f in fast.pages.get(page, ())}
        lines.append(f"    if page == {page}:")
        values = []
        for k, slot in enumerate(slots):
            f = fields.get(slot.signal)
            if f is None or f.big_endian or f.sign_bit:
                return None
            lines.append(f"        r{k} = {read_expression(f.shift, f.mask)}")
            value = f"r{k}"
            if f.scale == 1 and not f.identity:  # r * 1 is r: the same value
                value = f"r{k} + {_literal(f.offset)}"
            elif not f.identity:
                value = f"r{k} * {_literal(f.scale)} + {_literal(f.offset)}"
            if slot.decimals:
                value = f"round({value}, {slot.decimals})"
            if integer:
                value = f"int({value})"
            invalid = layout.invalid_raw(slot.signal)
            values.append(value if invalid is None else f"None if r{k} == {invalid} else {value}")
        lines.append(f"        return make({slots[0].index}, ({', '.join(values)},))")
    lines.append("    raise KeyError(f'no group {page}')")
    decode: Decoder = _function("\n".join(lines) + "\n", name, make)
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
    name = f"encode_{layout.name}"
    lines = [f"def {name}(frame: Any) -> bytes:",
             f"    first, values = frame.{first_field}, frame.{values_field}",
             "    count = len(values)",
             "    c: float  # each value as a float: machine arithmetic where compiled"]
    for page, slots in layout.array_slots(prefix).items():
        fields = {f.name: f for f in encoder.pages.get(page, ())}
        lines += [f"    if first == {slots[0].index}:",
                  f"        if count > {len(slots)}:",
                  f"            raise ValueError(f'{{count}} values for a group of {len(slots)}')",
                  f"        if count < {len(slots)}:",
                  f"            values = tuple(values) + (None,) * ({len(slots)} - count)",
                  f"        {', '.join(f'v{k}' for k in range(len(slots)))}, = values"]
        placed: list[tuple[str, int, int]] = []
        for k, slot in enumerate(slots):
            f = fields.get(slot.signal)
            invalid = layout.invalid_raw(slot.signal)
            if f is None or f.big_endian or invalid is None:
                return None
            placed.append((f"r{k}", f.shift, f.mask))
            span = layout.range_of(slot.signal)
            low, high, offset = _literal(span.minimum), _literal(span.maximum), _literal(f.offset)
            lines += [f"        if v{k} is None:",
                      f"            r{k} = {invalid & f.mask}",
                      "        else:",
                      f"            c = v{k}",
                      f"            if not {low} <= c <= {high}:",
                      f"                c = min(max(c, {low}), {high})"]
            if f.identity:
                lines.append(f"            r{k} = round_int(c) & {f.mask}")
            elif f.scale == 1:  # the general quotient and remainder come to this, exactly
                lines.append(f"            r{k} = round_int(c - {offset}) & {f.mask}")
            else:
                scale = _literal(f.scale)
                lines += [f"            q, r = divmod(c - {offset}, {scale})",
                          f"            r{k} = round_int(q if r == 0 else (c - {offset}) / "
                          f"{scale}) & {f.mask}"]
        constant = (page & mux.mask) << mux.shift
        lines.append(f"        return {payload_expression(layout.length, constant, placed)}")
    lines.append("    raise ValueError(f'no group starts at element {first}')")
    encode: Encoder = _function("\n".join(lines) + "\n", name, None)
    return encode


def module_source() -> str:
    """Source of the compiled build's module: every function made in this process so far
    (the build makes the codecs of every bus first), each bound to its frame class."""
    lines = ['"""Written by `bms compiled build` from the DBC files (dbc/codec/arrays.py)."""',
             "", "from typing import Any", "",
             "from bms.rounding import round_half_even as round_int", ""]
    functions = []
    for index, (source, (name, make)) in enumerate(sorted(sources.items())):
        unique = f"{name}_{index}"
        if make is not None:
            lines.append(f"from {make.__module__} import {make.__qualname__} as make_{index}")
        lines.append(source.replace(f"def {name}(", f"def {unique}(", 1)
                     .replace("return make(", f"return make_{index}("))
        functions.append(f"    {source!r}: {unique},")
    return "\n".join([*lines, "FUNCTIONS: dict[str, Any] = {", *functions, "}", ""])
