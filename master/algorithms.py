"""The master's algorithms on one measurement period: state estimation, power limits and
the balancing plan, fed from the pack state the core keeps. Pure; the core calls `update`
every measurement period and `plan_balancing` every BalancingCommand period.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from bms.chemistry import FLAT, REFERENCE_CELLS, CircuitOverSoc, cell_capacity_ah
from bms.settings import Settings
from dbc.frames import MasterState
from master.balancing_planner import BalancingPlanner, Plan, PlanInputs
from master.diagnosis.limits import Limits
from master.estimation.drift import DriftCorrection
from master.estimation.ocv_curve import Array
from master.estimation.pack_estimator import (
    PackEstimate,
    PackEstimator,
    nansum,
    resistance_factor,
)
from master.estimation.power_limits import CurrentLimits, LimitInputs, PowerLimiter
from master.estimation.pulse_limits import PulseState, PulseTable
from master.estimation.soc_ekf import SocFilter
from master.pack_state import PackState

MV_PER_V: Final = 1000.0
SECONDS_PER_HOUR: Final = 3600.0
UNKNOWN_TEMPERATURE_DEGC: Final = 25.0  # for the resistance of a module without a valid sensor
PULSE_SOC_STEP: Final = 0.0005  # the power test's resistances looked up again after this,
PULSE_DEGC_STEP: Final = 0.05  # or this,
PULSE_SCALE_STEP: Final = 1e-4  # or this change of a learnt R0 (relative)


def over_horizon(f: SocFilter, cell_r_factor: Array, horizon_s: float,
                 over_soc: CircuitOverSoc = FLAT) -> tuple[Array, Array]:
    """Every cell's voltage at no current ``horizon_s`` from now, and what a constant current
    adds to it by then, per A: I (R0 + R1 (1 - e^-h/tau) + dOCV/dQ h) on the RC voltage
    decayed by e^-h/tau (the resistance limit's inputs). R0, R1 and tau are the filter's,
    shaped over SOC by the cell file's table (``over_soc``) where there is one."""
    r0 = f.resistance_ohm() * cell_r_factor
    r1 = r0 * f.r1_per_r0
    tau_s = r1 * f.c1_f
    if over_soc.soc:
        r0 = r0 * np.interp(f.soc, over_soc.soc, over_soc.r0_factor)
        r1 = r1 * np.interp(f.soc, over_soc.soc, over_soc.r1_factor)
        tau_s = tau_s * np.interp(f.soc, over_soc.soc, over_soc.tau1_factor)
    remaining = np.exp(-horizon_s / tau_s)
    moved = f.curve.slope(f.soc) * horizon_s / (f.capacity_ah * SECONDS_PER_HOUR)
    return (np.asarray(f.curve.voltage(f.soc) + f.ocv_shift_v + f.v_rc_v * remaining,
                       dtype=np.float64),
            np.asarray(r0 + r1 * (1.0 - remaining) + moved, dtype=np.float64))


STEADY_A: Final = 0.5  # two successive current samples closer than this: the current is steady


@dataclass
class CurrentIntegral:
    """Charge through the pack from the current samples (left rectangles)."""

    charge_as: float = 0.0
    last: tuple[float, float] | None = None  # (time, current) of the latest sample
    steady: bool = False  # the latest two samples agree

    def sample(self, current_a: float, now_s: float) -> None:
        if self.last is not None:
            self.charge_as += self.last[1] * (now_s - self.last[0])
            self.steady = abs(current_a - self.last[1]) < STEADY_A
        self.last = (now_s, current_a)

    def up_to(self, now_s: float) -> float:
        """Charge up to ``now_s``, extrapolating the latest sample."""
        if self.last is None:
            return self.charge_as
        return self.charge_as + self.last[1] * (now_s - self.last[0])


class PackAlgorithms:
    def __init__(self, settings: Settings, limits: Limits, now_s: float) -> None:
        pack = settings.pack
        self.settings = settings
        self.shape = (pack.modules, pack.cells_per_module)
        self.estimator = PackEstimator(settings)
        self.power = PowerLimiter(settings.power_limits, limits, cell_capacity_ah(settings),
                                  now_s)
        # against drift: the operator's SOC, full points, the calibration charge (it moves
        # the power limits' charge ceiling) and the current sensor's gain
        self.drift = DriftCorrection(settings, limits, cell_capacity_ah(settings), now_s)
        self.power.charge_cell_mv = self.drift.charge_cell_mv
        floor = REFERENCE_CELLS[pack.chemistry].balancing_floor_mv
        self.planner = BalancingPlanner(settings.balancing, *self.shape, floor)
        self.integral = CurrentIntegral()
        self.estimate: PackEstimate | None = None
        self.limits = self.power.current
        self._last_charge: tuple[float, float] | None = None  # (time, charge)
        # the current when the latest cell voltages arrived, and whether it was steady: the
        # voltages are compared with the current they were measured under
        self._measured_under: tuple[float, bool] | None = None
        self._cell_v = np.full(self.shape, np.nan)
        self._module_temperature = np.full(pack.modules, np.nan)
        cell = self.estimator.cell
        self._pulses = PulseTable(cell.pulses, cell.capacity_ah, cell.r0_temperature) \
            if cell.pulses.seconds and \
            cell.pulses.seconds == settings.power_limits.resistance_horizon_s else None
        self._pulse_state: tuple[Array, Array, Array, PulseState] | None = None

    @property
    def plan(self) -> Plan:
        return self.planner.plan

    def on_cell_voltages(self) -> None:
        """A CellVoltages frame arrived: remember the current it was measured under."""
        if self.integral.last is not None:
            self._measured_under = (self.integral.last[1], self.integral.steady)

    def update(self, now_s: float, pack: PackState, cell_max_age_s: float,
               temperature_max_age_s: float, current_a: float | None,
               allowed: bool) -> CurrentLimits:
        """One measurement period: estimate, then limits."""
        self._cell_v = pack.cell_mv.matrix(now_s, cell_max_age_s) / MV_PER_V
        hottest, mean = _module_temperatures(pack.temperature_degc.values,
                                             pack.temperature_degc.times_s,
                                             now_s - temperature_max_age_s)
        self._module_temperature = np.array(hottest, dtype=float)
        # the cells' R0 relative to 25 degC: for the estimator and the limits alike
        cell_temperature = np.repeat(np.array(mean, dtype=float), self.shape[1])
        cell_r_factor = resistance_factor(cell_temperature, self.estimator.r0_temperature)
        if current_a is not None and self._measured_under is not None:
            charge = self.integral.up_to(now_s)
            mean_a = current_a
            if self._last_charge is not None and now_s > self._last_charge[0]:
                mean_a = (charge - self._last_charge[1]) / (now_s - self._last_charge[0])
            self._last_charge = (now_s, charge)
            measured_a, steady = self._measured_under
            gain = self.drift.gain  # the sensor's gain error, learnt: taken off what is counted
            cell_v = self._cell_v.ravel()
            self.estimator.update(now_s, cell_v, gain.corrected(mean_a),
                                  gain.corrected(measured_a), cell_r_factor,
                                  self._bleed_a().ravel(), steady, cell_temperature)
            self.drift.update(now_s, self.estimator, cell_v, gain.corrected(current_a),
                              cell_r_factor)
            self.power.charge_cell_mv = self.drift.charge_cell_mv
        self.estimate = self.estimator.estimate()
        self.limits = self.power.update(now_s, self._limit_inputs(
            cell_r_factor, cell_temperature, allowed and self.estimate is not None))
        return self.limits

    def set_soc(self, now_s: float, soc: float, sigma: float | None,
                current_a: float | None) -> str | None:
        """The operator's usable SOC (0..1), as `DriftCorrection.set_soc`; the estimate
        shows it at once. ``current_a``: the sensor's (its zero removed), None if stale."""
        refused = self.drift.set_soc(
            now_s, self.estimator, soc, sigma,
            None if current_a is None else self.drift.gain.corrected(current_a))
        if refused is None:
            self.estimate = self.estimator.estimate()
        return refused

    def _bleed_a(self) -> Array:
        """Per cell: the passive bleed current the plan draws (V / R)."""
        masks = self.planner.plan.masks
        if not any(masks):
            return np.zeros(self.shape)
        bits = (np.array(masks, dtype=np.int64)[:, None] >> np.arange(self.shape[1])) & 1 == 1
        voltage = np.nan_to_num(self._cell_v, nan=0.0)
        return np.where(bits, voltage / self.settings.balancing.resistor_ohm, 0.0)

    def _limit_inputs(self, cell_r_factor: Array, cell_temperature: Array,
                      allowed: bool) -> LimitInputs:
        estimate, e = self.estimate, self.estimator
        cell_mv = self._cell_v * MV_PER_V
        valid_t = self._module_temperature[~np.isnan(self._module_temperature)]
        if estimate is None or np.isnan(cell_mv).all() or not valid_t.size:
            return LimitInputs(25.0, 25.0, 0.5, 0.5, 0.0, 0.0, np.zeros(1), np.ones(1), 0.0,
                               False)
        f = e.filter
        voltage_v, resistance_ohm = over_horizon(
            f, cell_r_factor, self.settings.power_limits.resistance_horizon_s, e.over_soc)
        return LimitInputs(
            min_temperature_degc=float(valid_t.min()),
            max_temperature_degc=float(valid_t.max()),
            soc_min=estimate.soc_min, soc_max=estimate.soc_max,
            # fmin / fmax skip NaN: what nanmin / nanmax give (not all NaN, checked above)
            min_cell_mv=float(np.fmin.reduce(cell_mv, axis=None)),
            max_cell_mv=float(np.fmax.reduce(cell_mv, axis=None)),
            cell_ocv_v=voltage_v,
            cell_r0_ohm=resistance_ohm,
            pack_voltage_v=nansum(cell_mv) / MV_PER_V,
            allowed=allowed,
            cell_current_a=self.pulse_current(cell_temperature),
        )

    def pulse_current(self, cell_temperature: Array) -> Callable[[Array, bool], Array] | None:
        """Headroom to current per cell from the cell file's power test, on the filter's
        SOC and with its learnt R0 against the file's (ageing); None without a power test
        of the resistance horizon's length. The cells' resistances are looked up again
        once an SOC has moved by `PULSE_SOC_STEP`, a temperature by `PULSE_DEGC_STEP` or a
        learnt R0 by `PULSE_SCALE_STEP` (relative): between, the table's interpolation
        moves the limit by less than that."""
        if self._pulses is None:
            return None
        f = self.estimator.filter
        soc, scale = f.soc, f.resistance_ohm() / self.estimator.cell.r0_ohm
        last = self._pulse_state
        if last is None or np.max(np.abs(soc - last[0])) > PULSE_SOC_STEP or \
                np.max(np.abs(cell_temperature - last[1])) > PULSE_DEGC_STEP or \
                np.max(np.abs(scale / last[2] - 1.0)) > PULSE_SCALE_STEP:
            last = (soc.copy(), np.array(cell_temperature, dtype=np.float64), scale,
                    self._pulses.at(soc, cell_temperature, scale))
            self._pulse_state = last
        return last[3].current_a

    def plan_balancing(self, state: MasterState, current_a: float | None, vcu_enabled: bool,
                       vcu_threshold_mv: float | None) -> Plan:
        f = self.estimator.filter
        ready = self.estimate is not None
        return self.planner.update(PlanInputs(
            state=state, current_a=current_a, cell_mv=self._cell_v * MV_PER_V,
            module_max_temperature_degc=self._module_temperature,
            soc=f.soc.reshape(self.shape) if ready else None,
            capacity_ah=self.estimator.health.capacity_ah.reshape(self.shape) if ready else None,
            vcu_enabled=vcu_enabled, vcu_threshold_mv=vcu_threshold_mv))


def _module_temperatures(values: list[list[float | None]], times_s: list[list[float]],
                         oldest_s: float) -> tuple[list[float], list[float]]:
    """Per module: the hottest of the valid sensors measured since ``oldest_s``, and their
    mean (NaN and `UNKNOWN_TEMPERATURE_DEGC` without one). A few sensors per module: plain
    loops cost less than the array operations every measurement period."""
    hottest: list[float] = []
    mean: list[float] = []
    for row, times in zip(values, times_s, strict=True):
        valid = [v for v, t in zip(row, times, strict=True) if v is not None and t >= oldest_s]
        if valid:
            hottest.append(max(valid))
            mean.append(sum(valid, 0.0) / len(valid))
        else:
            hottest.append(math.nan)
            mean.append(UNKNOWN_TEMPERATURE_DEGC)
    return hottest, mean
