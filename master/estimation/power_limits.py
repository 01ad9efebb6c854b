"""Power limits (state of function): the charge and discharge current the pack allows now,
and the power at the present pack voltage.

Each limiter gives a ceiling; the most restrictive wins and is named:
- maximum: the chemistry's operating over-current limits (master/diagnosis/limits.py);
- temperature: derating over the hottest and coldest sensor (tables or, by default, from
  the operating temperature limits: 0 at the limit, full 10 degC inside it);
- soc: derating over the fullest (charge) and emptiest (discharge) cell;
- cell voltage: 0 at the operating voltage limit (charging: at the charge ceiling,
  ``charge_cell_mv``: the everyday one or a calibration charge's), full
  ``voltage_window_mv`` before it;
- resistance: the current that would bring the weakest cell to its operating voltage
  limit after ``resistance_horizon_s`` of it, from its OCV, RC voltage and learnt R0 (the
  inputs are over that horizon: the RC pair charging, the OCV moving with the charge); where
  the cell file has a power test of that length, from its pulses instead
  (`master.estimation.pulse_limits`: the resistance falls with the current);
- state: 0 in ERROR and when no estimate exists yet.
Soft derating (temperature, SOC) never takes discharge below the limp-home floor. A limit
falls at once and rises at ``ramp_up_c_per_s``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bms.algorithm_settings import PowerLimitSettings
from dbc.vehicle_frames import Limiter
from master.diagnosis.limits import Limits
from master.estimation.ocv_curve import Array

MV_PER_V = 1000.0
PCT = 100.0
TEMPERATURE_RAMP_DEGC = 10.0


@dataclass(frozen=True)
class CurrentLimits:
    charge_a: float
    discharge_a: float  # a magnitude
    charge_limiter: Limiter
    discharge_limiter: Limiter
    charge_w: float
    discharge_w: float


@dataclass(frozen=True)
class LimitInputs:
    min_temperature_degc: float
    max_temperature_degc: float
    soc_min: float
    soc_max: float
    min_cell_mv: float
    max_cell_mv: float
    cell_ocv_v: Array  # every cell's voltage at no current after the horizon (OCV + RC left)
    cell_r0_ohm: Array  # what a current adds to it by then, per A (R0 and more)
    pack_voltage_v: float
    allowed: bool  # False in ERROR or before the first estimate
    # per cell, the current that uses up a headroom (V) over the horizon, charging (True)
    # or discharging, where the cell file has a power test; else headroom / cell_r0_ohm
    cell_current_a: Callable[[Array, bool], Array] | None = None


def _interp(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    """np.interp of one value (the same arithmetic, tests compare them bit for bit) without
    turning the tables into arrays on every call: six calls every measurement period."""
    if len(xs) == 1:
        return float(ys[0])
    if math.isnan(x):
        return math.nan
    if x < xs[0]:
        return float(ys[0])
    if x >= xs[-1]:
        return float(ys[-1])
    j = bisect.bisect_right(xs, x) - 1
    slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
    value = slope * (x - xs[j]) + ys[j]
    if math.isnan(value):  # numpy's fallbacks for an infinite slope
        value = slope * (x - xs[j + 1]) + ys[j + 1]
        if math.isnan(value) and ys[j] == ys[j + 1]:
            value = ys[j]
    return float(value)


class PowerLimiter:
    def __init__(self, settings: PowerLimitSettings, limits: Limits, capacity_ah: float,
                 now_s: float) -> None:
        self.settings = settings
        self.limits = limits
        self.max_charge_a = limits.charge_overcurrent_a.operating
        self.max_discharge_a = limits.discharge_overcurrent_a.operating
        # the highest cell voltage a charge goes to (its owner moves it: master/algorithms.py)
        self.charge_cell_mv = limits.cell_overvoltage_mv.operating
        self.limp_home_a = settings.limp_home_c * capacity_ah
        self.ramp_a_per_s = settings.ramp_up_c_per_s * capacity_ah
        self._charge_table = self._temperature_table(True)
        self._discharge_table = self._temperature_table(False)
        self._last_s = now_s
        self.current = CurrentLimits(0.0, 0.0, Limiter.STATE, Limiter.STATE, 0.0, 0.0)
        self.resistance_a = (0.0, 0.0)  # the resistance limiter's (charge, discharge), latest

    def _temperature_table(self, charge: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
        s = self.settings
        if s.temperature_points_degc:
            factors = s.charge_temperature_factors if charge else s.discharge_temperature_factors
            return s.temperature_points_degc, factors
        low = (self.limits.charge_undertemperature_degc if charge
               else self.limits.discharge_undertemperature_degc).operating
        high = (self.limits.charge_overtemperature_degc if charge
                else self.limits.discharge_overtemperature_degc).operating
        ramp = min(TEMPERATURE_RAMP_DEGC, (high - low) / 2)
        return (low, low + ramp, high - ramp, high), (0.0, 1.0, 1.0, 0.0)

    def update(self, now_s: float, inputs: LimitInputs) -> CurrentLimits:
        dt_s = max(0.0, now_s - self._last_s)
        self._last_s = now_s
        if not inputs.allowed:
            self.current = CurrentLimits(0.0, 0.0, Limiter.STATE, Limiter.STATE, 0.0, 0.0)
            return self.current
        charge, charge_by = self._target(inputs, charge=True)
        discharge, discharge_by = self._target(inputs, charge=False)
        charge, charge_by = self._ramp(charge, charge_by, self.current.charge_a, dt_s)
        discharge, discharge_by = self._ramp(discharge, discharge_by,
                                             self.current.discharge_a, dt_s)
        self.current = CurrentLimits(charge, discharge, charge_by, discharge_by,
                                     charge * inputs.pack_voltage_v,
                                     discharge * inputs.pack_voltage_v)
        return self.current

    def _target(self, inputs: LimitInputs, charge: bool) -> tuple[float, Limiter]:
        s, limits = self.settings, self.limits
        maximum = self.max_charge_a if charge else self.max_discharge_a
        points, factors = self._charge_table if charge else self._discharge_table
        temperature = min(_interp(inputs.min_temperature_degc, points, factors),
                          _interp(inputs.max_temperature_degc, points, factors))
        soc_factors = s.charge_soc_factors if charge else s.discharge_soc_factors
        soc = _interp((inputs.soc_max if charge else inputs.soc_min) * PCT,
                      s.soc_points_pct, soc_factors)
        soft = [(maximum, Limiter.MAXIMUM), (maximum * temperature, Limiter.TEMPERATURE),
                (maximum * soc, Limiter.SOC)]
        value, limiter = min(soft, key=lambda item: item[0])
        if not charge and value < self.limp_home_a:
            value, limiter = min(self.limp_home_a, maximum), Limiter.LIMP_HOME
        if charge:
            limit_mv = self.charge_cell_mv
            headroom_mv = limit_mv - inputs.max_cell_mv
            headroom_v = limit_mv / MV_PER_V - inputs.cell_ocv_v
        else:
            limit_mv = limits.cell_undervoltage_mv.operating
            headroom_mv = inputs.min_cell_mv - limit_mv
            headroom_v = inputs.cell_ocv_v - limit_mv / MV_PER_V
        voltage = maximum * min(1.0, max(0.0, headroom_mv / s.voltage_window_mv))
        if inputs.cell_current_a is not None:
            resistance = max(0.0, float(np.min(inputs.cell_current_a(headroom_v, charge))))
        else:
            resistance = max(0.0, float(np.min(headroom_v / inputs.cell_r0_ohm)))
        self.resistance_a = (resistance, self.resistance_a[1]) if charge else \
            (self.resistance_a[0], resistance)
        for hard, name in ((voltage, Limiter.CELL_VOLTAGE), (resistance, Limiter.RESISTANCE)):
            if hard < value:
                value, limiter = hard, name
        return value, limiter

    def _ramp(self, target: float, limiter: Limiter, previous: float,
              dt_s: float) -> tuple[float, Limiter]:
        ceiling = previous + self.ramp_a_per_s * dt_s
        if target > ceiling:
            return ceiling, Limiter.RAMP
        return target, limiter
