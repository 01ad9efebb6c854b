"""Which cells bleed: the master's balancing planner (pure; the slaves execute).

- voltage mode: a cell bleeds while it is more than ``threshold`` above the lowest cell of
  the pack, and keeps bleeding until it is within ``threshold - hysteresis``;
- soc mode: a cell bleeds while the charge it holds above the emptiest cell
  ((SOC - min SOC) x its capacity) exceeds ``soc_threshold_pct`` of its capacity; the
  estimates come from the master's EKF, so it works under load too.

Constraints, checked every plan: the state is one of ``allowed_states``, |pack current| is
at most ``max_current_a``, no cell below the floor voltage bleeds, no module hotter than
``max_temperature_degc`` bleeds, and at most ``max_cells_per_module`` bleed in one module
(the ones furthest above the target first). The VCU can switch balancing off and set the
voltage threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from bms.algorithm_settings import BalancingSettings
from dbc.frames import MasterState
from master.estimation.ocv_curve import Array

PCT: Final = 100.0


@dataclass(frozen=True)
class PlanInputs:
    state: MasterState
    current_a: float | None
    cell_mv: Array  # modules x cells, NaN: invalid
    module_max_temperature_degc: Array  # per module, NaN: unknown
    soc: Array | None  # modules x cells from the estimator (soc mode)
    capacity_ah: Array | None  # modules x cells
    vcu_enabled: bool = True
    vcu_threshold_mv: float | None = None  # None: the configured threshold


@dataclass(frozen=True)
class Plan:
    masks: tuple[int, ...]  # per module: bit i = cell i bleeds
    allowed: bool
    reason: str  # why nothing bleeds, or "balancing"

    @property
    def bleeding_cells(self) -> int:
        return sum(bin(mask).count("1") for mask in self.masks)


class BalancingPlanner:
    def __init__(self, settings: BalancingSettings, modules: int, cells: int,
                 floor_mv: float) -> None:
        self.settings = settings
        self.modules, self.cells = modules, cells
        self.floor_mv = settings.min_cell_voltage_mv or floor_mv
        self._bleeding = np.zeros((modules, cells), dtype=bool)
        self.plan = Plan((0,) * modules, False, "not planned yet")

    def update(self, inputs: PlanInputs) -> Plan:
        reason = self._blocked(inputs)
        if reason is not None:
            self._bleeding[:] = False
            self.plan = Plan((0,) * self.modules, False, reason)
            return self.plan
        excess = self._excess(inputs)  # how far above the target, in the mode's unit
        if excess is None:
            self._bleeding[:] = False
            self.plan = Plan((0,) * self.modules, True, "no complete measurement")
            return self.plan
        start, keep = self._thresholds(inputs)
        wanted = np.where(self._bleeding, excess > keep, excess > start)
        wanted &= ~(inputs.cell_mv < self.floor_mv)
        hot = inputs.module_max_temperature_degc > self.settings.max_temperature_degc
        wanted[hot] = False
        wanted = self._at_most_k(wanted, excess)
        self._bleeding = wanted
        masks = tuple(int(sum(1 << int(i) for i in np.flatnonzero(row))) for row in wanted)
        self.plan = Plan(masks, True, "balancing")
        return self.plan

    def _blocked(self, inputs: PlanInputs) -> str | None:
        s = self.settings
        if s.mode == "off":
            return "off in the configuration"
        if not inputs.vcu_enabled:
            return "off by the VCU"
        if inputs.state.name not in s.allowed_states:
            return f"not in {inputs.state.name}"
        if inputs.current_a is None or abs(inputs.current_a) > s.max_current_a:
            return "pack current too high"
        return None

    def _excess(self, inputs: PlanInputs) -> Array | None:
        if self.settings.mode == "voltage":
            if np.isnan(inputs.cell_mv).any():
                return None
            return np.asarray(inputs.cell_mv - inputs.cell_mv.min(), dtype=np.float64)
        if inputs.soc is None or inputs.capacity_ah is None:
            return None
        charge_ah = inputs.soc * inputs.capacity_ah
        # charge above the emptiest cell, as a share of the cell's capacity (in %)
        above = (inputs.soc - inputs.soc.min()) * PCT
        return np.asarray(np.where(charge_ah > 0, above, 0.0), dtype=np.float64)

    def _thresholds(self, inputs: PlanInputs) -> tuple[float, float]:
        s = self.settings
        if s.mode == "voltage":
            start = inputs.vcu_threshold_mv or s.threshold_mv
            return start, max(0.0, start - s.hysteresis_mv)
        return s.soc_threshold_pct, s.soc_threshold_pct / 2

    def _at_most_k(self, wanted: Array, excess: Array) -> Array:
        k = self.settings.max_cells_per_module
        limited = wanted.copy()
        for module in np.flatnonzero(wanted.sum(axis=1) > k):
            candidates = np.flatnonzero(wanted[module])
            keep = candidates[np.argsort(-excess[module, candidates], kind="stable")[:k]]
            limited[module] = False
            limited[module, keep] = True
        return limited
