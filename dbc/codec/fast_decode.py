"""Decoding a message with plain integer arithmetic derived from its DBC signals.

The same result as cantools' ``decode_simple(data, decode_choices=False)`` (a test checks
every message of every DBC file against it on random payloads), without decoding a
multiplexed message twice: for the hot path (the master, the log tools). Signals are
read from the whole payload as one integer: little-endian signals from the little-endian
integer, big-endian (Motorola) ones from the big-endian integer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    big_endian: bool
    shift: int
    mask: int
    sign_bit: int  # 0 for unsigned signals
    scale: float | int
    offset: float | int
    identity: bool

    def read(self, little: int, big: int) -> float | int:
        raw = ((big if self.big_endian else little) >> self.shift) & self.mask
        if self.sign_bit and raw & self.sign_bit:
            raw -= self.sign_bit << 1
        return raw if self.identity else raw * self.scale + self.offset


def signal_position(signal: Any, length_bytes: int) -> tuple[bool, int]:
    """(big-endian?, shift of the lowest bit) of a signal in the payload read as one
    integer: little-endian signals in the little-endian integer, Motorola ones in the
    big-endian integer. Float signals are not supported by the fast paths."""
    if signal.is_float:
        raise ValueError(f"{signal.name}: float signals are not supported by the fast path")
    if signal.byte_order == "little_endian":
        return False, signal.start
    # DBC Motorola: start is the most significant bit, numbered bit 7..0 within byte 0,
    # 15..8 within byte 1, ... In the big-endian integer that bit is at this position:
    msb = (length_bytes - 1 - signal.start // 8) * 8 + signal.start % 8
    return True, msb - signal.length + 1


def _field(signal: Any, length_bytes: int) -> _Field:
    big_endian, shift = signal_position(signal, length_bytes)
    scale, offset = signal.scale, signal.offset
    return _Field(signal.name, big_endian, shift, (1 << signal.length) - 1,
                  1 << (signal.length - 1) if signal.is_signed else 0,
                  scale, offset, scale == 1 and offset == 0)


class FastDecoder:
    def __init__(self, message: Any) -> None:
        self.length = message.length
        plain: list[_Field] = []
        pages: dict[int, list[_Field]] = {}
        mux = next((s for s in message.signals if s.is_multiplexer), None)
        self.multiplexer = _field(mux, message.length) if mux is not None else None
        for signal in message.signals:
            field = _field(signal, message.length)
            if signal.multiplexer_ids:
                for value in signal.multiplexer_ids:
                    pages.setdefault(int(value), []).append(field)
            else:
                plain.append(field)
        if mux is not None and mux.choices:
            for value in mux.choices:  # a named value is a page even without signals
                pages.setdefault(int(value), [])
        self.plain = tuple(plain)
        self.pages = {value: tuple(fields) for value, fields in pages.items()}

    def decode(self, data: bytes) -> dict[str, float | int]:
        """Raises KeyError for a multiplexer value the DBC does not define."""
        little = int.from_bytes(data, "little")
        big = int.from_bytes(data, "big")
        values = {f.name: f.read(little, big) for f in self.plain}
        if self.multiplexer is not None and self.pages:
            page = self.pages[int(self.multiplexer.read(little, big))]
            values.update((f.name, f.read(little, big)) for f in page)
        return values
