"""Against SOC drift (docs/estimation.md#against-soc-drift): the operator's SOC, full
points, the scheduled calibration charge and the current sensor's gain. Pure, time passed
in: `PackAlgorithms` runs it after the estimator every measurement period.

- ``set_soc``: the operator's SOC, refused under current (the OCV it is read off holds only
  near rest) and beyond a change per command; every cell moves by the same amount (the
  spread stays) and its 1-sigma is the operator's.
- A full point: the highest cell within ``full_margin_mv`` of the calibration voltage with
  the current tapered below ``full_current_c``, for ``full_hold_s``: the end of the voltage
  plateau, where the OCV is steep and tells the SOC (`PackEstimator.full_point`).
- The calibration charge: ``calibration_interval_days`` after the latest full point the
  charge ceiling (the power limits' and the inverter's charge voltage) rises from the
  everyday one to the calibration voltage until the next full point, or until
  ``calibration_max_duration_h`` have passed.
- The gain: master/estimation/current_gain.py, from full points and rest points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bms.errors import ConfigError
from bms.settings import Settings
from master.diagnosis.limits import Limits
from master.estimation.current_gain import CurrentGain, Reference, describe
from master.estimation.ocv_curve import Array
from master.estimation.pack_estimator import PackEstimator
from master.events import EstimationEvent

PCT = 100.0
MV_PER_V = 1000.0
SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0


class FullPointDetector:
    """The highest cell at or above ``min_cell_mv`` with |I| at most ``max_current_a``, for
    ``hold_s``: once, and again only after the condition has broken."""

    def __init__(self, min_cell_mv: float, max_current_a: float, hold_s: float) -> None:
        self.min_cell_mv = min_cell_mv
        self.max_current_a = max_current_a
        self.hold_s = hold_s
        self._since_s: float | None = None
        self._taken = False

    def rearm(self) -> None:
        """Count a condition that holds already (a calibration charge that finds the pack
        at its top waits for ``hold_s``, not for the condition to break first)."""
        self._since_s, self._taken = None, False

    def update(self, now_s: float, max_cell_mv: float, current_a: float) -> bool:
        if not (max_cell_mv >= self.min_cell_mv and abs(current_a) <= self.max_current_a):
            self._since_s, self._taken = None, False  # (NaN compares False: no full point)
            return False
        if self._since_s is None:
            self._since_s = now_s
        if self._taken or now_s - self._since_s < self.hold_s:
            return False
        self._taken = True
        return True


class DriftCorrection:
    def __init__(self, settings: Settings, limits: Limits, capacity_ah: float,
                 now_s: float) -> None:
        d = settings.drift
        self.settings = d
        self.cells = settings.pack.cells
        operating = limits.cell_overvoltage_mv.operating
        self.everyday_cell_mv = settings.power_limits.charge_cell_voltage_mv or operating
        self.calibration_cell_mv = d.calibration_cell_voltage_mv or operating
        for key, value in (("power_limits.charge_cell_voltage_mv", self.everyday_cell_mv),
                           ("drift.calibration_cell_voltage_mv", self.calibration_cell_mv)):
            if value > operating:
                raise ConfigError(f"{key}: {value:g} mV is above the operating over-voltage "
                                  f"limit ({operating:g} mV)")
        if d.calibration_interval_days > 0 and self.calibration_cell_mv < self.everyday_cell_mv:
            raise ConfigError("drift.calibration_cell_voltage_mv: below the everyday charge's "
                              "(power_limits.charge_cell_voltage_mv): a calibration charge "
                              "goes higher")
        self.detector = FullPointDetector(self.calibration_cell_mv - d.full_margin_mv,
                                          d.full_current_c * capacity_ah, d.full_hold_s)
        self.gain = CurrentGain(d.gain_max_pct / PCT, d.gain_min_span_pct / PCT, d.gain_weight)
        self.capacity_ah = capacity_ah
        self.interval_s = d.calibration_interval_days * SECONDS_PER_DAY
        self.max_duration_s = d.calibration_max_duration_h * SECONDS_PER_HOUR
        self.last_full_s = now_s  # the latest full point (or calibration), else the start
        self.calibrating_since_s: float | None = None
        self.events: list[EstimationEvent] = []
        # the SOC each cell's count moved as the sensor read it (no gain taken off): a sum
        self.counted = np.zeros(self.cells)
        self._throughput: Array | None = None
        self._branch = 1.0  # the OCV branch the cells are on: the last current's direction
        self._rest_seen_s: float | None = None
        self._now_s = now_s

    @property
    def charge_cell_mv(self) -> float:
        """The charge ceiling now: the calibration voltage during a calibration charge."""
        return self.calibration_cell_mv if self.calibrating_since_s is not None else \
            self.everyday_cell_mv

    def take_events(self) -> list[EstimationEvent]:
        events, self.events = self.events, []
        return events

    # --- the operator's SOC ---------------------------------------------------------------

    def set_soc(self, now_s: float, estimator: PackEstimator, usable: float,
                sigma: float | None, current_a: float | None) -> str | None:
        """The operator's usable SOC (0..1) with its 1-sigma (None: the setting's); the
        reason when refused."""
        d = self.settings
        estimate = estimator.estimate()
        if estimate is None:
            return "the estimator has not started yet"
        if current_a is None:
            return "no current measurement: the SOC is set at rest only"
        limit_a = d.set_max_current_c * self.capacity_ah
        if abs(current_a) > limit_a:
            return (f"|current| is {abs(current_a):.2f} A, above {limit_a:.2f} A "
                    f"(drift.set_max_current_c): set the SOC at rest, where the OCV it is "
                    f"read off holds")
        old = estimate.soc_usable
        if abs(usable - old) * PCT > d.set_max_change_pct + 1e-9:
            return (f"a change of {(usable - old) * PCT:+.1f} points is more than "
                    f"drift.set_max_change_pct ({d.set_max_change_pct:g})")
        sigma_pct = d.set_sigma_pct if sigma is None else sigma * PCT
        if not estimator.shift_to_usable(usable, sigma_pct / PCT):
            return "the emptiest cell is empty and the fullest full: no shift can change it"
        new = estimator.estimate()
        new_usable = new.soc_usable if new is not None else usable
        self.events.append(EstimationEvent(
            now_s, "soc_set", old * PCT, new_usable * PCT, "%",
            f"SOC set by the operator: {old * PCT:.1f} % -> {new_usable * PCT:.1f} % "
            f"(every cell moved by the same amount, 1-sigma {sigma_pct:g} %)"))
        return None

    # --- every measurement period ---------------------------------------------------------

    def update(self, now_s: float, estimator: PackEstimator, cell_v: Array, current_a: float,
               factor: Array) -> None:
        """After the estimator's update: ``cell_v`` the cells (V, NaN: invalid),
        ``current_a`` the current (its zero and gain corrected), ``factor`` the cells' R0
        against 25 degC."""
        self._now_s = now_s
        self._count(estimator)
        if abs(current_a) >= estimator.rest_current_a:
            self._branch = 1.0 if current_a > 0 else -1.0
        self._schedule(now_s)
        if not estimator.filter.initialised:
            return
        valid = ~np.isnan(cell_v)
        max_mv = float(np.max(cell_v[valid])) * MV_PER_V if valid.any() else math.nan
        if self.detector.update(now_s, max_mv, current_a):
            self._full_point(now_s, estimator, cell_v, current_a, factor, max_mv)
        rest = estimator.rest_point
        if rest is not None and rest[0] != self._rest_seen_s:
            self._rest_seen_s = rest[0]
            soc, steep = estimator.reference_soc(rest[1], 0.0, factor, self._branch)
            if steep.all():  # a gain reference only where every cell's OCV tells its SOC
                self._gain_reference(now_s, Reference(soc, self.counted.copy(), full=False))

    def _count(self, estimator: PackEstimator) -> None:
        throughput = estimator.throughput_ah  # counted with the gain taken off: put it back
        if self._throughput is not None:
            self.counted += (throughput - self._throughput) * self.gain.gain \
                / estimator.health.capacity_ah
        self._throughput = throughput.copy()

    def _pack_v(self, cell_mv: float) -> float:
        return self.cells * cell_mv / MV_PER_V

    def _schedule(self, now_s: float) -> None:
        since = self.calibrating_since_s
        if since is not None and now_s - since >= self.max_duration_s:
            self._end_calibration(now_s, f"without a full point after "
                                         f"{self.settings.calibration_max_duration_h:g} h")
            self.last_full_s = now_s  # the next one an interval from now
        elif since is None and self.interval_s > 0 and \
                now_s - self.last_full_s >= self.interval_s:
            self.calibrating_since_s = now_s
            self.detector.rearm()
            old, new = self._pack_v(self.everyday_cell_mv), self._pack_v(self.calibration_cell_mv)
            self.events.append(EstimationEvent(
                now_s, "calibration_started", old, new, "V",
                f"calibration charge started ({(now_s - self.last_full_s) / SECONDS_PER_DAY:.1f}"
                f" days after the last full point): charge voltage limit {old:.1f} V -> "
                f"{new:.1f} V until the highest cell's full point (at least "
                f"{self.detector.min_cell_mv:.0f} mV below "
                f"{self.settings.full_current_c:g} C)"))

    def _end_calibration(self, now_s: float, how: str) -> None:
        self.calibrating_since_s = None
        old, new = self._pack_v(self.calibration_cell_mv), self._pack_v(self.everyday_cell_mv)
        self.events.append(EstimationEvent(
            now_s, "calibration_ended", old, new, "V",
            f"calibration charge ended {how}: charge voltage limit {old:.1f} V -> {new:.1f} V"))

    def _full_point(self, now_s: float, estimator: PackEstimator, cell_v: Array,
                    current_a: float, factor: Array, max_mv: float) -> None:
        before = estimator.estimate()
        done = estimator.full_point(cell_v, current_a, factor)
        after = estimator.estimate()
        if done is None or before is None or after is None:
            return  # the highest cell is not where the OCV is steep: no full point
        fullest, soc_before, reference = done
        module, cell = divmod(fullest, estimator.cells_per_module)
        self.events.append(EstimationEvent(
            now_s, "full_point", before.soc_usable * PCT, after.soc_usable * PCT, "%",
            f"full point at module {module} cell {cell} ({max_mv:.0f} mV, "
            f"{current_a / self.capacity_ah:.3f} C): SOC {before.soc_usable * PCT:.1f} % -> "
            f"{after.soc_usable * PCT:.1f} % (that cell {soc_before[fullest] * PCT:.1f} % -> "
            f"{estimator.filter.soc[fullest] * PCT:.1f} %)"))
        self.last_full_s = now_s
        if self.calibrating_since_s is not None:
            self._end_calibration(now_s, "at the full point")
        self._gain_reference(now_s, Reference(reference, self.counted.copy(), full=True))

    def _gain_reference(self, now_s: float, reference: Reference) -> None:
        change = self.gain.reference(reference)
        if change is not None:
            self.events.append(EstimationEvent(
                now_s, "current_gain", (change.old - 1.0) * PCT, (change.new - 1.0) * PCT,
                "%", describe(change)))

    # --- persistence ----------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """What survives a restart, as ages at the latest update (the core's clock starts
        again): since the latest full point, the calibration charge under way, the gain."""
        now_s, since = self._now_s, self.calibrating_since_s
        return {"since_full_point_s": now_s - self.last_full_s,
                "calibrating_for_s": None if since is None else now_s - since,
                "current_gain": self.gain.record(self.counted)}

    def restore(self, record: Any, now_s: float, offline_s: float) -> list[str]:
        """A stored record at ``now_s``, ``offline_s`` after it was stored."""
        try:
            since_s = float(record["since_full_point_s"])
            calibrating = record["calibrating_for_s"]
            calibrating_s = None if calibrating is None else float(calibrating)
            self.gain.restore(record["current_gain"], self.counted)
        except (KeyError, TypeError, ValueError) as exc:
            return [f"stored drift state unreadable ({exc!r}): the calibration schedule "
                    f"starts again, the current sensor's gain is 1"]
        self.last_full_s = now_s - offline_s - since_s
        self.calibrating_since_s = None if calibrating_s is None else \
            now_s - offline_s - calibrating_s
        notes = [f"last full point {(since_s + offline_s) / SECONDS_PER_DAY:.2f} days ago; "
                 f"current sensor gain {(self.gain.gain - 1.0) * PCT:+.2f} %"]
        if self.calibrating_since_s is not None:
            notes.append("a calibration charge was under way: it goes on")
        return notes
