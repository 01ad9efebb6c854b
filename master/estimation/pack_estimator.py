"""The pack's state from the master's measurements: SOC per cell (EKF), the figures the
vehicle needs (min, max, average, usable SOC; energy), health per cell, and the counters.

Called once per measurement period with every cell voltage (NaN: invalid), the mean pack
current since the last call, the latest current, the cell temperatures and the bleed
currents. At rest (|I| below ``rest_current_a`` for ``rest_time_s``) the SOC is set from the
OCV wherever the OCV curve is steep enough to say something, and health learns capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from bms.chemistry import (
    ACTIVATION_ENERGY_J_PER_MOL,
    ARRHENIUS,
    GAS_CONSTANT_J_PER_MOL_K,
    KELVIN_OFFSET,
    REFERENCE_TEMPERATURE_K,
    ResistanceTemperature,
    series_cell,
)
from bms.settings import Settings
from master.estimation.health import HealthSettings, HealthTracker
from master.estimation.ocv_curve import Array, OcvCurve, clip
from master.estimation.soc_ekf import SocFilter

SECONDS_PER_HOUR = 3600.0
MV_PER_V = 1000.0
PCT = 100.0
SOC_BAND = (-0.05, 1.10)  # the estimate is held inside a physical band
REST_SOC_SIGMA = 0.01  # how well the OCV knows the SOC after a full rest
REST_VOLTAGE_UNCERTAINTY_V = 0.003  # a rest reading: 1 mV resolution and a few mV of noise
SETTLE_WINDOW_S = 60.0  # a rest's voltages are compared over this long
# a rest is a quarter of the load below which voltages correct: on the LFP plateau at 10 degC
# a trickle of 0.02 C reads several points of SOC off (measured on the DFN days)
REST_OF_QUIET = 0.25


def nansum(values: Array) -> float:
    """What np.nansum gives (the same additions in the same order), without its copies and
    checks: every measurement period, on every cell."""
    return float(np.add.reduce(np.where(np.isnan(values), 0.0, values), axis=None))


def resistance_factor(temperature_degc: Array, law: ResistanceTemperature = ARRHENIUS
                      ) -> Array:
    """The resistances' multiplier against 25 degC, per cell: ``law`` (the cell file's
    points, `ResistanceTemperature.factor` element-wise), else Arrhenius."""
    kelvin = temperature_degc + KELVIN_OFFSET
    if not law.inverse_k:
        return np.exp(ACTIVATION_ENERGY_J_PER_MOL / GAS_CONSTANT_J_PER_MOL_K
                      * (1.0 / kelvin - 1.0 / REFERENCE_TEMPERATURE_K))
    xs, ys = np.array(law.inverse_k), np.array(law.log_factor)
    x = 1.0 / kelvin
    j = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
    return np.asarray(np.exp(ys[j] + slope * (x - xs[j])), dtype=np.float64)


@dataclass(frozen=True)
class PackEstimate:
    soc_min: float  # 0..1
    soc_max: float
    soc_avg: float
    soc_usable: float  # 0 when the emptiest cell is empty, 1 when the fullest is full
    soc_sigma_max: float  # the least certain cell's SOC 1-sigma (0..1)
    energy_wh: float  # what the pack delivers from here down to 0 % (OCV energy)
    capacity_ratio_min: float  # SOH: the weakest cell's capacity against nominal
    resistance_ratio_max: float  # the worst cell's R0 against nominal
    weakest_cell: tuple[int, int]  # (module, cell) of the lowest capacity
    highest_resistance_cell: tuple[int, int]


@dataclass
class Counters:
    """Lifetime counters, persisted by the master's store."""

    charged_ah: float = 0.0
    discharged_ah: float = 0.0
    charged_wh: float = 0.0
    discharged_wh: float = 0.0


@dataclass
class EstimatorState:
    """What survives a restart (the store's snapshot)."""

    soc: list[float]
    capacity_ah: list[float]
    r0_ohm: list[float]
    counters: Counters = field(default_factory=Counters)


class PackEstimator:
    def __init__(self, settings: Settings) -> None:
        e = settings.estimation
        self.settings = e
        self.modules = settings.pack.modules
        self.cells_per_module = settings.pack.cells_per_module
        cells = self.modules * self.cells_per_module
        reference = series_cell(settings)
        capacity = reference.capacity_ah
        self.curve = OcvCurve(reference.ocv, reference.ocv_shift)
        self.r0_temperature = reference.r0_temperature
        self.over_soc = reference.over_soc  # for the power limits
        self.cell = reference  # its power test, where it has one: for the power limits
        self.health = HealthTracker(capacity, reference.r0_ohm, cells, HealthSettings(
            e.capacity_min_soc_span_pct / PCT, e.capacity_gain,
            e.resistance_step_c * capacity, e.resistance_gain))
        self.filter = SocFilter(
            self.curve, self.health.capacity_ah, self.health.r0_ohm,
            reference.r1_ohm / reference.r0_ohm,
            reference.c1_f, e.voltage_sigma_mv / MV_PER_V, e.current_sigma_a,
            e.soc_drift_pct_per_sqrt_h / PCT / np.sqrt(SECONDS_PER_HOUR),
            e.voltage_sigma_load_fraction, e.voltage_sigma_load_memory_s,
            e.voltage_correction_max_c * capacity, e.resistance_min_c * capacity,
            e.ocv_soc_sigma_pct / PCT)
        self.min_ocv_slope = e.ocv_min_slope_mv_per_pct / MV_PER_V * PCT  # V per unit SOC
        # a rest is a rest below rest_current_a, and below the load at which voltages still
        # correct: a trickle's polarisation on a flat OCV is several points of SOC
        self.rest_current_a = e.rest_current_a if e.voltage_correction_max_c == 0 else \
            min(e.rest_current_a, e.voltage_correction_max_c * capacity * REST_OF_QUIET)
        self.throughput_ah = np.zeros(cells)  # per cell, signed, for capacity
        self.counters = Counters()
        self.notes: list[str] = []  # for the master's journal
        self._restored: Array | None = None
        self._last_s: float | None = None
        self._rest_since_s: float | None = None
        self._rest_corrected = False
        self._rest_reference: tuple[float, Array] = (0.0, np.zeros(cells))
        self._previous: tuple[Array, float] | None = None  # voltages, current
        self._corrected_s = float("-inf")
        self._temperature_degc = np.full(cells, 25.0)  # per cell, the latest
        # the latest OCV reset after a rest: (time, cell voltages, where the OCV told the
        # SOC), for the current sensor's gain (master/estimation/drift.py)
        self.rest_point: tuple[float, Array, NDArray[np.bool_]] | None = None
        # half the gap between the OCV's charge and discharge branches (the cell file's)
        self.hysteresis_v = reference.hysteresis_v

    # --- persistence ----------------------------------------------------------------------

    def restore(self, state: EstimatorState) -> None:
        """Start from a stored state; the SOC is checked against the OCV at the first rest
        measurement (see ``stored_soc_tolerance_pct``)."""
        cells = len(self.throughput_ah)
        if not len(state.soc) == len(state.capacity_ah) == len(state.r0_ohm) == cells:
            self.notes.append(f"stored estimator state is for {len(state.soc)} cells, not "
                              f"{cells}: ignored")
            return
        self.health.restore(np.array(state.capacity_ah), np.array(state.r0_ohm))
        self.filter.capacity_ah = self.health.capacity_ah
        self.filter.r0_ohm = self.health.r0_ohm
        self.counters = state.counters
        self._restored = np.array(state.soc, dtype=float)

    def state(self) -> EstimatorState:
        return EstimatorState([float(x) for x in self.filter.soc],
                              [float(x) for x in self.health.capacity_ah],
                              [float(x) for x in self.health.r0_ohm], self.counters)

    # --- update ---------------------------------------------------------------------------

    def update(self, now_s: float, cell_v: Array, mean_current_a: float, current_a: float,
               factor: Array, bleed_a: Array, steady: bool = True,
               temperature_degc: Array | None = None) -> None:
        """``current_a``: the current the voltages were measured under; ``factor``: the
        cells' R0 relative to 25 degC (`resistance_factor` of their temperatures);
        ``steady``: the current had not just changed (only then do voltage steps tell the
        resistance); ``temperature_degc``: the cells' (for an OCV that moves with it)."""
        if temperature_degc is not None and self.curve.shifts:
            self._temperature_degc = np.where(np.isnan(temperature_degc), 25.0,
                                              temperature_degc)
            if self.filter.initialised:
                self.filter.ocv_shift_v = self.curve.shift_v(self.filter.soc,
                                                             self._temperature_degc)
        at_rest = abs(current_a) < self.rest_current_a
        if not self.filter.initialised:
            self._start(cell_v, current_a, factor, at_rest)
            self._last_s = now_s
            self._previous = (cell_v, current_a) if steady else None
            return
        dt_s = now_s - self._last_s if self._last_s is not None else 0.0
        self._last_s = now_s
        cell_mean_a = mean_current_a - bleed_a
        self.filter.predict(dt_s, cell_mean_a, factor)
        # A model error (a cell's R0 a few % off) is not white noise: corrected ten times a
        # second it would be integrated into the SOC, badly so on a flat OCV curve. The
        # voltages are fused once per correction period, the current every period.
        if now_s - self._corrected_s >= self.settings.correction_period_s - 1e-9:
            self._corrected_s = now_s
            self.filter.correct(cell_v, current_a - bleed_a, factor)
        self.filter.soc = clip(self.filter.soc, *SOC_BAND)
        self.throughput_ah += cell_mean_a * dt_s / SECONDS_PER_HOUR
        self._count(mean_current_a, dt_s, cell_v)
        self._rest(now_s, at_rest, cell_v)
        if self._previous is not None and steady:
            previous_v, previous_a = self._previous
            self.health.current_step(cell_v - previous_v, current_a - previous_a, factor)
        self._previous = (cell_v, current_a) if steady else None

    def _start(self, cell_v: Array, current_a: float, factor: Array, at_rest: bool) -> None:
        """The first measurement: from the stored state if plausible, else from the OCV."""
        ocv_soc = self.curve.soc_at_temperature(
            cell_v - self.health.r0_ohm * factor * current_a, self._temperature_degc)
        if np.isnan(cell_v).any():
            return  # wait until every cell has been measured once
        sigma = self.settings.initial_soc_sigma_pct / PCT
        if self._restored is None:
            self.filter.start(ocv_soc, sigma, from_ocv=True)
            return
        soc = self._restored.copy()
        if at_rest:
            steep = self.curve.steep_around(cell_v, REST_VOLTAGE_UNCERTAINTY_V,
                                            self.min_ocv_slope)
            off = steep & (np.abs(soc - ocv_soc) > self.settings.stored_soc_tolerance_pct / PCT)
            for index in np.flatnonzero(off):
                module, cell = divmod(int(index), self.cells_per_module)
                self.notes.append(
                    f"stored SOC of module {module} cell {cell} implausible "
                    f"({soc[index] * PCT:.1f} %, OCV says {ocv_soc[index] * PCT:.1f} %): "
                    f"OCV used")
            soc[off] = ocv_soc[off]
        self.filter.start(soc, sigma / 2)
        self._restored = None

    def _count(self, mean_current_a: float, dt_s: float, cell_v: Array) -> None:
        ah = mean_current_a * dt_s / SECONDS_PER_HOUR
        wh = ah * nansum(cell_v)
        c = self.counters
        if ah >= 0:
            c.charged_ah += ah
            c.charged_wh += wh
        else:
            c.discharged_ah -= ah
            c.discharged_wh -= wh

    def _rest(self, now_s: float, at_rest: bool, cell_v: Array) -> None:
        if not at_rest:
            self._rest_since_s, self._rest_corrected = None, False
            return
        if self._rest_since_s is None:
            self._rest_since_s, self._rest_reference = now_s, (now_s, cell_v)
        if self._rest_corrected or now_s - self._rest_since_s < self.settings.rest_time_s:
            return
        if not self._settled(now_s, cell_v):
            return
        self._rest_corrected = True
        ocv_soc = self.curve.soc_at_temperature(cell_v, self._temperature_degc)
        table_v = cell_v - self.curve.shift_v(ocv_soc, self._temperature_degc)
        steep = self.curve.steep_around(table_v, REST_VOLTAGE_UNCERTAINTY_V,
                                        self.min_ocv_slope) & ~np.isnan(cell_v)
        reliable = np.where(steep, ocv_soc, np.nan)
        self.filter.start(reliable, REST_SOC_SIGMA, from_ocv=True)
        self.rest_point = (now_s, cell_v.copy(), steep)
        self.health.rest_point(reliable, self.throughput_ah)
        self.filter.capacity_ah = self.health.capacity_ah

    def _settled(self, now_s: float, cell_v: Array) -> bool:
        """The cells have relaxed: over the last minute or more no voltage moved faster than
        ``rest_settled_mv_per_min`` (0: any rest of ``rest_time_s`` is settled)."""
        limit = self.settings.rest_settled_mv_per_min
        if limit <= 0:
            return True
        since_s, reference = self._rest_reference
        if now_s - since_s < SETTLE_WINDOW_S:
            return False
        rate = np.abs(cell_v - reference) * MV_PER_V / ((now_s - since_s) / 60.0)
        self._rest_reference = (now_s, cell_v)
        return bool(np.nanmax(rate) <= limit) if not np.isnan(rate).all() else False

    # --- against drift (master/estimation/drift.py decides when) --------------------------

    def shift_to_usable(self, usable: float, soc_sigma: float) -> bool:
        """Shift every cell's SOC by the same amount so that the usable SOC becomes
        ``usable`` (0..1): the spread between the cells stays, and each cell's SOC 1-sigma
        is ``soc_sigma``. False (nothing done) when no shift can: the emptiest cell empty
        and the fullest full."""
        soc = clip(self.filter.soc, 0.0, 1.0)
        low, high = float(soc.min()), float(soc.max())
        if low + 1.0 - high <= 0.0:
            return False
        # the usable SOC is low / (low + 1 - high): a shift leaves the denominator as it is
        shift = usable * (low + 1.0 - high) - low
        self.filter.reset_soc(clip(soc + shift, *SOC_BAND), soc_sigma, from_ocv=False)
        return True

    def reference_soc(self, cell_v: Array, current_a: float, factor: Array,
                      branch: float) -> tuple[Array, NDArray[np.bool_]]:
        """Every cell's SOC from its voltage (the filter's R0 drop and RC voltage taken off),
        on the OCV's charge (``branch`` 1) or discharge (-1) branch, and where the OCV is
        steep enough to tell it (`estimation.ocv_min_slope_mv_per_pct`) over a band that
        holds the branch's own uncertainty too: a cell only part of the way to its branch
        (a short charge) reads up to the hysteresis off, which just below the LFP plateau
        would make a 93 % cell read 79 %."""
        ocv = cell_v - self.filter.resistance_ohm() * factor * current_a - self.filter.v_rc_v \
            - branch * self.hysteresis_v
        soc = self.curve.soc_at_temperature(ocv, self._temperature_degc)
        table_v = ocv - self.curve.shift_v(soc, self._temperature_degc)
        steep = self.curve.steep_around(table_v, REST_VOLTAGE_UNCERTAINTY_V + self.hysteresis_v,
                                        self.min_ocv_slope) & ~np.isnan(cell_v)
        return soc, steep

    def full_point(self, cell_v: Array, current_a: float, factor: Array
                   ) -> tuple[int, Array, Array] | None:
        """The highest cell is at the end of its voltage plateau with the current tapered:
        its SOC is the OCV table's there (on the charge branch), every other cell's too
        where its OCV is steep, else it moves with the highest (the coulomb count's spread
        stays). Returns the highest cell, every cell's SOC before and the OCV's SOC (NaN
        where not steep); None (nothing done) when the highest cell's OCV is not steep: that
        is no full point."""
        if np.isnan(cell_v).all() or not self.filter.initialised:
            return None
        soc, steep = self.reference_soc(cell_v, current_a, factor, 1.0)
        fullest = int(np.nanargmax(cell_v))
        if not steep[fullest]:
            return None
        before = self.filter.soc.copy()
        after = np.where(steep, soc, before + (soc[fullest] - before[fullest]))
        self.filter.reset_soc(clip(after, *SOC_BAND), REST_SOC_SIGMA, from_ocv=True)
        return fullest, before, np.where(steep, soc, np.nan)

    # --- output ---------------------------------------------------------------------------

    def estimate(self) -> PackEstimate | None:
        if not self.filter.initialised:
            return None
        soc = clip(self.filter.soc, 0.0, 1.0)
        low, high = float(soc.min()), float(soc.max())
        usable = low / (low + 1.0 - high) if low + 1.0 - high > 0 else 0.0
        capacity = self.health.capacity_ratio()
        resistance = self.health.resistance_ratio()
        energy = self.curve.energy_wh_per_ah(soc) * self.health.capacity_ah
        return PackEstimate(
            soc_min=low, soc_max=high, soc_avg=float(np.add.reduce(soc) / soc.size),  # mean()
            soc_usable=usable,
            soc_sigma_max=float(np.max(self.filter.soc_sigma())),
            energy_wh=float(energy.sum()),
            capacity_ratio_min=float(capacity.min()),
            resistance_ratio_max=float(resistance.max()),
            weakest_cell=divmod(int(capacity.argmin()), self.cells_per_module),
            highest_resistance_cell=divmod(int(resistance.argmax()), self.cells_per_module),
        )

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes
