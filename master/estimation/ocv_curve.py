"""The chemistry's OCV table as vectorised functions over every cell of the pack."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from bms.chemistry import NO_SHIFT, OcvShift, OcvTable

Array = NDArray[np.float64]
ArrayT = TypeVar("ArrayT", bound=NDArray[Any])
ENERGY_POINTS = 201  # resolution of the tabulated energy integral


def clip(values: ArrayT, low: float, high: float) -> ArrayT:
    """What np.clip gives (NaN stays NaN, the dtype stays), without its Python-level
    wrapper: several times every measurement period."""
    return cast("ArrayT", np.minimum(np.maximum(values, low), high))


class OcvCurve:
    def __init__(self, table: OcvTable, shift: OcvShift = NO_SHIFT) -> None:
        self.soc = np.array(table.soc, dtype=float)
        # the OCV at other temperatures: shifts from this table (none: the same everywhere)
        self.shifts = bool(shift.temperatures_degc)
        self._shift_t = np.array(shift.temperatures_degc, dtype=float)
        self._shift_soc = np.array(shift.soc, dtype=float)
        self._shift_v = np.array(shift.shift_v, dtype=float)
        self.voltage_v = np.array(table.voltage_v, dtype=float)
        self.slopes_v = np.diff(self.voltage_v) / np.diff(self.soc)  # V per unit SOC
        grid = np.linspace(0.0, 1.0, ENERGY_POINTS)
        ocv = np.interp(grid, self.soc, self.voltage_v)
        # cumulative integral of OCV over SOC: Wh per Ah of capacity (trapezoids)
        steps = np.diff(grid) * (ocv[1:] + ocv[:-1]) / 2
        self._energy_grid = grid
        self._energy_wh_per_ah = np.concatenate(([0.0], np.cumsum(steps)))

    def voltage(self, soc: Array) -> Array:
        """OCV at ``soc``, linear beyond the table like the plant's model."""
        segment = self._segment(soc)
        offset = soc - self.soc[segment]
        return np.asarray(self.voltage_v[segment] + self.slopes_v[segment] * offset,
                          dtype=np.float64)

    def slope(self, soc: Array) -> Array:
        """dOCV/dSOC in V per unit SOC."""
        return self.slopes_v[self._segment(soc)]

    def soc_at(self, voltage_v: Array) -> Array:
        """The SOC whose OCV this is, clamped to 0..1."""
        return np.asarray(np.interp(voltage_v, self.voltage_v, self.soc), dtype=np.float64)

    def steep_around(self, voltage_v: Array, uncertainty_v: float,
                     min_slope: float) -> NDArray[np.bool_]:
        """Where a voltage tells the SOC: within +-``uncertainty_v`` of it the curve is, on
        average, at least ``min_slope`` (V per unit SOC) steep, and the band lies inside the
        table. Judged over the whole band, not at the point: a reading just above a
        plateau's edge may be a plateau cell."""
        spread = self.soc_at(voltage_v + uncertainty_v) - self.soc_at(voltage_v - uncertainty_v)
        # beyond the table's ends the inverse is clamped: a reading there says no SOC
        inside = (voltage_v - uncertainty_v >= self.voltage_v[0]) & \
            (voltage_v + uncertainty_v <= self.voltage_v[-1])
        return np.asarray((spread * min_slope <= 2 * uncertainty_v) & inside, dtype=np.bool_)

    def shift_v(self, soc: Array, temperature_degc: Array) -> Array:
        """What the OCV at ``temperature_degc`` adds to this table's at ``soc``, per cell."""
        if not self.shifts:
            return np.zeros(len(soc))
        rows = np.stack([np.interp(soc, self._shift_soc, row) for row in self._shift_v])
        t = self._shift_t
        j = np.clip(np.searchsorted(t, temperature_degc, side="right") - 1, 0, len(t) - 2)
        w = (temperature_degc - t[j]) / (t[j + 1] - t[j])
        cells = np.arange(len(soc))
        low, high = rows[j, cells], rows[j + 1, cells]
        return np.asarray(low + (high - low) * w, dtype=np.float64)

    def soc_at_temperature(self, voltage_v: Array, temperature_degc: Array) -> Array:
        """`soc_at` of an OCV at ``temperature_degc``: the shift taken off where the SOC is
        (two fixed-point steps: a shift of a few mV moves slowly with the SOC)."""
        soc = self.soc_at(voltage_v)
        if self.shifts:
            for _ in range(2):
                soc = self.soc_at(voltage_v - self.shift_v(soc, temperature_degc))
        return soc

    def energy_wh_per_ah(self, soc: Array) -> Array:
        """Energy a cell delivers from ``soc`` down to 0, per Ah of its capacity."""
        energy = np.interp(clip(soc, 0.0, 1.0), self._energy_grid, self._energy_wh_per_ah)
        return np.asarray(energy, dtype=np.float64)

    def _segment(self, soc: Array) -> NDArray[np.intp]:
        index = np.searchsorted(self.soc, soc, side="right") - 1
        return clip(index, 0, len(self.soc) - 2)
