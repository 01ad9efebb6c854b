"""Point values as Modbus registers: the map's layout (the ``SunS`` marker at the base
address, models 1, 802, 803 with one string, 804 with one group per module, the end
model), the scale factors chosen for the pack, and the encoding of each value. Pure.

- A value that is absent, NaN or infinite is SunSpec's "not implemented" value of its
  type (uint16 0xFFFF, int16 0x8000, uint32 and the bitfields 0xFFFFFFFF, sunssf 0x8000,
  a string all NUL); a pad is 0.
- A scaled value is ``round(value / 10**sf)``, saturated at its type's range without the
  "not implemented" value (the scale factors are chosen so that the pack's own maximum
  fits: docs/sunspec.md).
- 32-bit values are big-endian over two registers (high word first); strings are UTF-8,
  two characters a register, NUL-padded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sunspec.mapping import Points, Value, Values
from sunspec.models import BANK, BATTERY, COMMON, STRING, Model, Point, PointType
from sunspec.nameplate import Nameplate

SUNS = (0x5375, 0x6E53)  # "SunS"
END_MODEL = (0xFFFF, 0)
BASE_ADDRESSES = (0, 40000, 50000)  # where SunSpec clients look for the marker

T = PointType
NOT_IMPLEMENTED = {T.UINT16: 0xFFFF, T.ENUM16: 0xFFFF, T.INT16: -0x8000, T.SUNSSF: -0x8000,
                   T.UINT32: 0xFFFFFFFF, T.BITFIELD32: 0xFFFFFFFF, T.PAD: 0}
RANGES = {T.UINT16: (0, 0xFFFE), T.ENUM16: (0, 0xFFFE), T.INT16: (-0x7FFF, 0x7FFF),
          T.SUNSSF: (-10, 10), T.UINT32: (0, 0xFFFFFFFE), T.BITFIELD32: (0, 0x7FFFFFFF)}
UINT16_MAX, INT16_MAX = RANGES[T.UINT16][1], RANGES[T.INT16][1]


def finest_scale(largest: float, limit: int, finest: int, coarsest: int = 6) -> int:
    """The smallest power of ten (from ``finest``) at which ``largest`` fits in ``limit``."""
    for sf in range(finest, coarsest + 1):
        if abs(largest) / 10.0 ** sf <= limit:
            return sf
    return coarsest


def scales_of(nameplate: Nameplate) -> dict[str, int | None]:
    """Every scale factor point's value (None: the points it scales are not implemented)."""
    n = nameplate
    return {
        "AHRtg_SF": finest_scale(n.capacity_ah, UINT16_MAX, -2),
        "WHRtg_SF": finest_scale(n.energy_wh, UINT16_MAX, 0),
        "WChaDisChaMax_SF": finest_scale(max(n.charge_w_max, n.discharge_w_max), UINT16_MAX, 0),
        "DisChaRte_SF": None, "DoD_SF": None,
        "SoC_SF": -1, "SoH_SF": -1,
        "V_SF": finest_scale(n.voltage_v_max, UINT16_MAX, -2),
        "CellV_SF": -3,  # mV: the pack bus's own resolution
        "A_SF": finest_scale(n.current_a_max, INT16_MAX, -2),
        "AMax_SF": finest_scale(n.current_a_max, UINT16_MAX, -2),
        "W_SF": finest_scale(n.voltage_v_max * n.current_a_max, INT16_MAX, 0),
        "ModTmp_SF": -1,  # 0.1 degC, as the cells topic
    }


def _words(raw: int, size: int) -> list[int]:
    raw &= (1 << (16 * size)) - 1  # two's complement for the signed types
    return [(raw >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]


def encode(point: Point, value: Value, scales: Mapping[str, int | None]) -> list[int]:
    """The registers of one point."""
    if point.type is T.PAD:
        return [0] * point.size
    if point.type is T.STRING:
        data = (value if isinstance(value, str) else "").encode()[:2 * point.size]
        data = data.ljust(2 * point.size, b"\0")
        return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    if point.type is T.SUNSSF:
        value = scales.get(point.name)
    sf = scales.get(point.sf) if point.sf else 0
    if isinstance(value, str) or value is None or not math.isfinite(value) or sf is None:
        return _words(NOT_IMPLEMENTED[point.type], point.size)
    low, high = RANGES[point.type]
    raw = min(max(round(value / 10.0 ** sf), low), high)
    return _words(raw, point.size)


@dataclass(frozen=True)
class Placed:
    """A point where it is: its address, its model, and its repeat (None: the fixed part)."""

    address: int
    model: Model
    point: Point
    repeat: int | None = None


class Layout:
    """Where every point is, from the base address: the marker, then models 1, 802, 803
    (one string), 804 (``modules`` module groups), then the end model."""

    def __init__(self, base: int, modules: int) -> None:
        if base not in BASE_ADDRESSES:
            raise ValueError(f"base address {base}: one of {BASE_ADDRESSES}")
        self.base = base
        self.models: tuple[tuple[Model, int], ...] = (
            (COMMON, 0), (BATTERY, 0), (BANK, 1), (STRING, modules))
        self.points: list[Placed] = []
        self.model_addresses: dict[int, int] = {}
        address = base + len(SUNS)
        for model, repeats in self.models:
            self.model_addresses[model.id] = address
            address += 2  # ID and L
            for point in model.points:
                self.points.append(Placed(address, model, point))
                address += point.size
            for repeat in range(repeats):
                for point in model.group.points if model.group else ():
                    self.points.append(Placed(address, model, point, repeat))
                    address += point.size
        self.length = address + len(END_MODEL) - base
        self._starts = {p.address: p for p in self.points}

    def at(self, address: int) -> Placed | None:
        """The point that starts at ``address``."""
        return self._starts.get(address)

    def image(self, values: Values, scales: Mapping[str, int | None]) -> list[int]:
        """Every register, from the base address."""
        fixed = {COMMON.id: values.common, BATTERY.id: values.battery, BANK.id: values.bank,
                 STRING.id: values.string}
        repeated = {BANK.id: values.strings, STRING.id: values.modules}
        registers: list[int] = list(SUNS)
        for model, repeats in self.models:
            registers += [model.id, model.length(repeats)]
            registers += _encoded(model.points, fixed[model.id], scales)
            groups = repeated.get(model.id, [])
            for repeat in range(repeats):
                points = groups[repeat] if repeat < len(groups) else {}
                registers += _encoded(model.group.points if model.group else (), points, scales)
        registers += END_MODEL
        return registers


def _encoded(points: tuple[Point, ...], values: Points, scales: Mapping[str, int | None]
             ) -> list[int]:
    return [r for point in points for r in encode(point, values.get(point.name), scales)]
