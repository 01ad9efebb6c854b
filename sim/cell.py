"""Equivalent-circuit cell: OCV(SOC) + R0 + one or two RC pairs + OCV hysteresis, lumped
thermal mass, self-discharge.

The second pair (slow: diffusion) and the hysteresis are what the virtual pack's plant has
beyond the estimator's one-RC model. The hysteresis is a one-state model (Plett, J. Power
Sources 134 (2004), the "one-state hysteresis"): h in [-1, 1] moves towards the sign of the
current as charge passes, exp(-HYSTERESIS_RATE x |dSOC|), and adds h x ``hysteresis_v`` to
the OCV. Current is positive when it charges the cell. Resistances follow Arrhenius in
temperature (activation energy about 20 kJ/mol, docs/PROTOCOLS.md section 7). Pure and
deterministic: the caller advances time explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from bms.chemistry import ARRHENIUS, NO_SHIFT, OcvShift, OcvTable, ResistanceTemperature

SECONDS_PER_HOUR: Final = 3600.0
SECONDS_PER_MONTH: Final = 30 * 24 * 3600.0
# Beyond the table the model keeps going (an overcharged cell keeps rising) but SOC is held
# inside a physical band so that runaway numbers cannot appear.
SOC_FLOOR: Final = -0.05
SOC_CEILING: Final = 1.10
# per unit of SOC passed: after 3.3 % of the capacity in one direction the hysteresis has
# moved 63 % of the way to that branch
HYSTERESIS_RATE: Final = 30.0


@dataclass(frozen=True)
class CellParameters:
    capacity_ah: float
    r0_ohm: float
    r1_ohm: float
    c1_f: float
    thermal_capacity_j_per_k: float
    thermal_conductance_w_per_k: float
    coulombic_efficiency: float
    self_discharge_per_s: float  # fraction of capacity per second
    ocv: OcvTable
    r2_ohm: float = 0.0  # the slow pair (0: none)
    c2_f: float = 0.0
    hysteresis_v: float = 0.0  # half the gap between the charge and discharge branches
    r0_temperature: ResistanceTemperature = ARRHENIUS  # the resistances over temperature
    ocv_shift: OcvShift = NO_SHIFT  # the OCV at other temperatures than the table's

    @staticmethod
    def self_discharge_rate(pct_per_month: float) -> float:
        return pct_per_month / 100.0 / SECONDS_PER_MONTH


class CellModel:
    """State: SOC (0..1), the RC pairs' voltages, the hysteresis state, temperature (changed
    only by `step`, which keeps the resistances' temperature factor with it: one exponential
    a step, not one a read)."""

    __slots__ = ("_r_factor", "_segment", "_shift_v", "hysteresis", "p", "soc",
                 "temperature_degc", "v_rc2_v", "v_rc_v")

    def __init__(self, parameters: CellParameters, soc: float, temperature_degc: float) -> None:
        self.p = parameters
        self.soc = soc
        self.v_rc_v = 0.0
        self.v_rc2_v = 0.0
        self.hysteresis = 0.0  # -1: on the discharge branch, 1: on the charge branch
        self.temperature_degc = temperature_degc
        self._r_factor = parameters.r0_temperature.factor(temperature_degc)
        self._shift_v = parameters.ocv_shift.at(soc, temperature_degc)
        self._segment = -1  # of the OCV table, at the last read

    def ocv_v(self) -> float:
        ocv = self.p.ocv
        self._segment = ocv.segment(self.soc, self._segment)
        return ocv.voltage_in(self._segment, self.soc) + self._shift_v

    def terminal_voltage_v(self, current_a: float) -> float:
        r0 = self.p.r0_ohm * self._r_factor
        return self.ocv_v() + current_a * r0 + self.v_rc_v + self.v_rc2_v + \
            self.hysteresis * self.p.hysteresis_v

    def step(self, dt_s: float, current_a: float, ambient_degc: float,
             extra_heat_w: float = 0.0) -> None:
        """Advance by ``dt_s`` with a constant ``current_a`` (positive charges)."""
        if dt_s <= 0.0:
            return
        p = self.p
        factor = self._r_factor
        r0 = p.r0_ohm * factor
        r1 = p.r1_ohm * factor
        # exact solution of the RC pair for a constant current over the step
        decay = math.exp(-dt_s / (r1 * p.c1_f))
        self.v_rc_v = self.v_rc_v * decay + r1 * current_a * (1.0 - decay)
        if p.r2_ohm > 0.0:
            r2 = p.r2_ohm * factor
            decay2 = math.exp(-dt_s / (r2 * p.c2_f))
            self.v_rc2_v = self.v_rc2_v * decay2 + r2 * current_a * (1.0 - decay2)
        efficiency = p.coulombic_efficiency if current_a > 0 else 1.0
        passed = efficiency * current_a * dt_s / (p.capacity_ah * SECONDS_PER_HOUR)
        if p.hysteresis_v > 0.0 and current_a != 0.0:
            towards = 1.0 if current_a > 0 else -1.0
            self.hysteresis = towards + (self.hysteresis - towards) * \
                math.exp(-HYSTERESIS_RATE * abs(passed))
        self.soc += passed
        self.soc -= p.self_discharge_per_s * dt_s
        self.soc = min(max(self.soc, SOC_FLOOR), SOC_CEILING)
        heat_w = current_a * current_a * r0 + current_a * self.v_rc_v + \
            current_a * self.v_rc2_v + extra_heat_w
        cooling_w = p.thermal_conductance_w_per_k * (self.temperature_degc - ambient_degc)
        self.temperature_degc += (heat_w - cooling_w) * dt_s / p.thermal_capacity_j_per_k
        self._r_factor = p.r0_temperature.factor(self.temperature_degc)
        if p.ocv_shift.temperatures_degc:
            self._shift_v = p.ocv_shift.at(self.soc, self.temperature_degc)
