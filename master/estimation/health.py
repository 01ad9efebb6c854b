"""State of health per cell: capacity from charge throughput between rest points, internal
resistance from current steps. Both are tracked per cell, so a weak cell is named.

Capacity: at every OCV-based rest point the cell's SOC is well known; two rest points at
least ``min_soc_span`` apart give capacity = charge moved / SOC moved. Resistance: a current
step of at least ``min_step_a`` changes every cell voltage by about R0 x step within one
measurement period (the RC pair barely moves that fast); R0 is kept normalised to 25 degC.
Each new estimate moves the tracked value by its gain (a first-order filter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from master.estimation.ocv_curve import Array

MAX_RESISTANCE_RATIO = 10.0  # a step estimate beyond this many times nominal is noise


@dataclass(frozen=True)
class HealthSettings:
    min_soc_span: float
    capacity_gain: float
    min_step_a: float
    resistance_gain: float


class HealthTracker:
    def __init__(self, nominal_capacity_ah: float, nominal_r0_ohm: float, cells: int,
                 settings: HealthSettings) -> None:
        self.nominal_capacity_ah = nominal_capacity_ah
        self.nominal_r0_ohm = nominal_r0_ohm
        self.settings = settings
        self.capacity_ah = np.full(cells, nominal_capacity_ah)
        self.r0_ohm = np.full(cells, nominal_r0_ohm)  # at 25 degC
        self.capacity_updates = np.zeros(cells, dtype=np.int64)
        self.resistance_updates = np.zeros(cells, dtype=np.int64)
        self._anchor_soc = np.full(cells, np.nan)
        self._anchor_ah = np.zeros(cells)

    def rest_point(self, soc: Array, throughput_ah: Array) -> None:
        """A rest-based SOC (NaN where not reliable) at this cumulative cell throughput."""
        known = ~np.isnan(soc)
        span = np.abs(soc - self._anchor_soc)
        usable = known & ~np.isnan(self._anchor_soc) & (span >= self.settings.min_soc_span)
        if usable.any():
            measured = np.abs(throughput_ah[usable] - self._anchor_ah[usable]) / span[usable]
            gain = self.settings.capacity_gain
            self.capacity_ah[usable] += gain * (measured - self.capacity_ah[usable])
            self.capacity_updates[usable] += 1
        # a new anchor where there was none or where it was just used; a close rest point
        # keeps the older anchor, so that the next span can be long enough
        move = known & (np.isnan(self._anchor_soc) | usable)
        self._anchor_soc[move] = soc[move]
        self._anchor_ah[move] = throughput_ah[move]

    def current_step(self, delta_v: Array, delta_a: float, resistance_factor: Array) -> None:
        """Cell voltage changes (NaN: unknown) over a current step of ``delta_a``."""
        if abs(delta_a) < self.settings.min_step_a:
            return
        measured = delta_v / delta_a / resistance_factor
        good = np.isfinite(measured) & (measured > 0) & \
            (measured < MAX_RESISTANCE_RATIO * self.nominal_r0_ohm)
        if good.any():
            gain = self.settings.resistance_gain
            self.r0_ohm[good] += gain * (measured[good] - self.r0_ohm[good])
            self.resistance_updates[good] += 1

    def capacity_ratio(self) -> Array:
        return self.capacity_ah / self.nominal_capacity_ah

    def resistance_ratio(self) -> Array:
        return self.r0_ohm / self.nominal_r0_ohm

    def restore(self, capacity_ah: Array, r0_ohm: Array) -> None:
        self.capacity_ah = capacity_ah.astype(float).copy()
        self.r0_ohm = r0_ohm.astype(float).copy()
