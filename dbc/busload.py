"""Bus-load arithmetic for classic CAN (docs/PROTOCOLS.md section 1).

Frame length with worst-case bit stuffing (Davis, Burns, Bril, Lukkien 2007):
C = g + 8s + 13 + floor((g + 8s - 1) / 4) bit times, g = 34 (11-bit id) or 54 (29-bit id),
including the 3-bit interframe space. Quote the worst case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_STANDARD_ID_BITS = 34
_EXTENDED_ID_BITS = 54
_FIXED_BITS = 13


def frame_bits(data_bytes: int, is_extended_id: bool = False, worst_case: bool = True) -> int:
    """Bit times one classic CAN frame occupies on the bus, interframe space included."""
    if not 0 <= data_bytes <= 8:
        raise ValueError(f"classic CAN carries 0..8 data bytes, got {data_bytes}")
    g = _EXTENDED_ID_BITS if is_extended_id else _STANDARD_ID_BITS
    bits = g + 8 * data_bytes + _FIXED_BITS
    if worst_case:
        bits += (g + 8 * data_bytes - 1) // 4
    return bits


@dataclass(frozen=True)
class FrameRate:
    """A stream of frames of one kind: ``frames_per_s`` frames of ``data_bytes`` bytes."""

    name: str
    data_bytes: int
    frames_per_s: float
    is_extended_id: bool = False

    def bits_per_s(self, worst_case: bool = True) -> float:
        return self.frames_per_s * frame_bits(self.data_bytes, self.is_extended_id, worst_case)


def bus_load(rates: Iterable[FrameRate], bitrate: int, worst_case: bool = True) -> float:
    """Fraction of the bus (0..1) that the given frame streams occupy."""
    return sum(rate.bits_per_s(worst_case) for rate in rates) / bitrate


def max_frames_per_s(data_bytes: int, bitrate: int, is_extended_id: bool = False,
                     worst_case: bool = True) -> float:
    return bitrate / frame_bits(data_bytes, is_extended_id, worst_case)
