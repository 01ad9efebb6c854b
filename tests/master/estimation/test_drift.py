"""Against SOC drift, on the estimator itself: the operator's SOC (every cell moved alike,
sigma the operator's), a full point at the end of the LFP plateau, the calibration charge's
schedule and ceiling, and what of them survives a restart."""

import math

import numpy as np
import pytest

from bms.errors import ConfigError
from bms.settings import Settings, load_settings
from master.diagnosis.limits import resolve_limits
from master.estimation.drift import SECONDS_PER_DAY, DriftCorrection, FullPointDetector
from master.estimation.pack_estimator import PackEstimator

LFP = ["pack.chemistry=LFP", "pack.modules=1", "pack.cells_per_module=4",
       "power_limits.charge_cell_voltage_mv=3450"]
CELLS = 4
ONES = np.ones(CELLS)
ZEROS = np.zeros(CELLS)


def settings(*overrides: str) -> Settings:
    return load_settings(None, [*LFP, *overrides])


def estimator_at(soc: list[float], s: Settings | None = None) -> PackEstimator:
    estimator = PackEstimator(s or settings())
    estimator.update(0.0, np.full(CELLS, 3.3), 0.0, 0.0, ONES, ZEROS)  # starts it
    estimator.filter.start(np.array(soc), 0.01)
    return estimator


def drift_of(s: Settings, now_s: float = 0.0) -> DriftCorrection:
    return DriftCorrection(s, resolve_limits(s), 2.3, now_s)


# --- the operator's SOC --------------------------------------------------------------------

def test_a_set_moves_every_cell_alike_to_the_usable_soc_with_the_operators_sigma() -> None:
    estimator = estimator_at([0.50, 0.52, 0.55, 0.60])
    before = estimator.filter.soc.copy()
    drift = drift_of(settings())
    assert drift.set_soc(5.0, estimator, 0.70, 0.02, 0.0) is None
    after = estimator.filter.soc
    assert np.ptp(after - before) == pytest.approx(0.0, abs=1e-12)  # one shift: the spread
    estimate = estimator.estimate()
    assert estimate is not None
    assert estimate.soc_usable == pytest.approx(0.70)
    assert estimator.filter.soc_sigma() == pytest.approx(np.full(CELLS, 0.02))
    [event] = drift.take_events()
    assert (event.entry, event.unit, event.time_s) == ("soc_set", "%", 5.0)
    assert event.old == pytest.approx(50 / 90 * 100)
    assert event.new == pytest.approx(70.0)
    assert "55.6 % -> 70.0 %" in event.text
    # and it counts on from there: 1 C for 65 s (since the start) is 65/3600 of every cell
    estimator.update(65.0, np.full(CELLS, 3.3), 2.3, 2.3, ONES, ZEROS)
    assert estimator.filter.soc - after == pytest.approx(np.full(CELLS, 65 / 3600), rel=1e-3)


def test_without_a_stated_sigma_the_settings_is_taken() -> None:
    estimator = estimator_at([0.5] * CELLS)
    drift_of(settings("drift.set_sigma_pct=4")).set_soc(0.0, estimator, 0.6, None, 0.0)
    assert estimator.filter.soc_sigma() == pytest.approx(np.full(CELLS, 0.04))


@pytest.mark.parametrize(("target", "current_a", "reason"), [
    (0.55, 0.2, "0.20 A, above 0.11 A (drift.set_max_current_c)"),  # 0.05 C of 2.3 Ah
    (0.55, None, "no current measurement"),
    (0.75, 0.0, "+25.0 points is more than drift.set_max_change_pct (20)"),
    (0.25, 0.0, "-25.0 points"),
])
def test_a_set_is_refused_under_current_and_beyond_its_step(target: float,
                                                           current_a: float | None,
                                                           reason: str) -> None:
    estimator = estimator_at([0.5] * CELLS)
    drift = drift_of(settings())
    refused = drift.set_soc(0.0, estimator, target, None, current_a)
    assert refused is not None
    assert reason in refused
    assert estimator.filter.soc == pytest.approx(np.full(CELLS, 0.5))
    assert drift.take_events() == []


def test_a_set_before_the_estimator_started_is_refused() -> None:
    estimator = PackEstimator(settings())
    assert drift_of(settings()).set_soc(0.0, estimator, 0.5, None, 0.0) == \
        "the estimator has not started yet"


# --- full points ---------------------------------------------------------------------------

def test_a_full_point_holds_then_fires_once_until_it_breaks() -> None:
    detector = FullPointDetector(3535.0, 0.115, hold_s=30.0)
    assert not detector.update(0.0, 3540.0, 0.1)
    assert not detector.update(29.0, 3540.0, 0.1)
    assert detector.update(30.0, 3540.0, 0.1)
    assert not detector.update(60.0, 3540.0, 0.0)  # once
    assert not detector.update(61.0, 3540.0, 0.5)  # the current rose: it breaks
    assert not detector.update(62.0, math.nan, 0.0)
    assert not detector.update(63.0, 3540.0, 0.0)
    assert detector.update(93.0, 3540.0, 0.0)


def test_a_full_point_sets_the_highest_cell_from_its_ocv_and_moves_the_plateau_cells() -> None:
    """The highest cell at 3545 mV under 0.05 C, one cell on the steep top too, two on the
    plateau (their OCV says nothing): those move with the highest."""
    estimator = estimator_at([0.80, 0.79, 0.78, 0.70])
    estimator.filter.v_rc_v[:] = 0.0
    current_a = 0.115
    cell_v = np.array([3.545, 3.430, 3.324, 3.321])
    done = estimator.full_point(cell_v, current_a, ONES)
    assert done is not None
    fullest, before, reference = done
    assert fullest == 0
    curve = estimator.curve
    r0 = estimator.filter.resistance_ohm()
    ocv = cell_v - r0 * current_a - estimator.hysteresis_v  # on the charge branch
    table = curve.soc_at(ocv)
    soc = estimator.filter.soc
    assert soc[0] == pytest.approx(table[0])
    assert 0.985 < soc[0] < 0.990  # 3545 mV on the A123's top: 98.8 %, not 100 %
    assert soc[1] == pytest.approx(table[1])
    shift = table[0] - before[0]
    assert soc[2:] == pytest.approx(before[2:] + shift)
    assert np.isnan(reference[2:]).all()
    assert reference[:2] == pytest.approx(table[:2])


def test_no_full_point_where_the_highest_cell_is_on_the_plateau() -> None:
    estimator = estimator_at([0.80] * CELLS)
    assert estimator.full_point(np.full(CELLS, 3.325), 0.0, ONES) is None
    assert estimator.filter.soc == pytest.approx(np.full(CELLS, 0.80))


# --- the calibration charge ----------------------------------------------------------------

def run(drift: DriftCorrection, estimator: PackEstimator, start_s: float, end_s: float,
        cell_v: float, current_a: float, step_s: float = 10.0) -> None:
    t = start_s
    while t <= end_s:
        drift.update(t, estimator, np.full(CELLS, cell_v), current_a, ONES)
        t += step_s


def test_the_calibration_charge_raises_the_ceiling_until_its_full_point() -> None:
    s = settings("drift.calibration_interval_days=7")
    estimator = estimator_at([0.85] * CELLS, s)
    drift = drift_of(s)
    run(drift, estimator, 0.0, 6.9 * SECONDS_PER_DAY, 3.33, 0.0, step_s=3600.0)
    assert drift.charge_cell_mv == 3450.0  # everyday, for a week
    assert drift.take_events() == []
    run(drift, estimator, 7 * SECONDS_PER_DAY, 7 * SECONDS_PER_DAY, 3.33, 0.0)
    assert drift.charge_cell_mv == 3550.0  # the operating limit: the default target
    [started] = drift.take_events()
    assert (started.entry, started.old, started.new, started.unit) == \
        ("calibration_started", pytest.approx(13.8), pytest.approx(14.2), "V")
    t = 7 * SECONDS_PER_DAY + 10
    run(drift, estimator, t, t + 3600, 3.50, 1.0)  # charging: not a full point yet
    assert drift.take_events() == []
    run(drift, estimator, t + 3610, t + 3650, 3.545, 0.1)  # the taper at the top: 30 s
    full, ended = drift.take_events()
    assert full.entry == "full_point"
    assert full.old == pytest.approx(85.0)
    assert 98.5 < full.new < 99.0
    assert (ended.entry, ended.old, ended.new) == \
        ("calibration_ended", pytest.approx(14.2), pytest.approx(13.8))
    assert "at the full point" in ended.text
    assert drift.charge_cell_mv == 3450.0
    assert drift.last_full_s == pytest.approx(t + 3640)


def test_a_calibration_without_a_full_point_ends_after_its_longest_duration() -> None:
    s = settings("drift.calibration_interval_days=1", "drift.calibration_max_duration_h=12")
    estimator = estimator_at([0.5] * CELLS, s)
    drift = drift_of(s)
    run(drift, estimator, SECONDS_PER_DAY, 1.4 * SECONDS_PER_DAY, 3.30, 0.0, step_s=600.0)
    assert drift.charge_cell_mv == 3550.0
    run(drift, estimator, 1.5 * SECONDS_PER_DAY, 1.5 * SECONDS_PER_DAY, 3.30, 0.0)
    assert drift.charge_cell_mv == 3450.0
    _, ended = drift.take_events()
    assert "without a full point after 12 h" in ended.text
    run(drift, estimator, 2.4 * SECONDS_PER_DAY, 2.4 * SECONDS_PER_DAY, 3.30, 0.0)
    assert drift.charge_cell_mv == 3450.0  # the next a day after that
    run(drift, estimator, 2.5 * SECONDS_PER_DAY, 2.5 * SECONDS_PER_DAY, 3.30, 0.0)
    assert drift.charge_cell_mv == 3550.0


def test_the_schedule_survives_a_restart_and_counts_the_time_off() -> None:
    s = settings("drift.calibration_interval_days=7")
    estimator = estimator_at([0.5] * CELLS, s)
    old = drift_of(s)
    run(old, estimator, 0.0, 3 * SECONDS_PER_DAY, 3.30, 0.0, step_s=3600.0)
    record = old.record()
    assert record["since_full_point_s"] == pytest.approx(3 * SECONDS_PER_DAY)
    fresh = drift_of(s, now_s=100.0)  # the clock starts again, two days later
    notes = fresh.restore(record, 100.0, offline_s=2 * SECONDS_PER_DAY)
    assert "5.00 days ago" in notes[0]
    run(fresh, estimator, 100.0, 100.0 + 1.9 * SECONDS_PER_DAY, 3.30, 0.0, step_s=3600.0)
    assert fresh.calibrating_since_s is None
    run(fresh, estimator, 100.0 + 2 * SECONDS_PER_DAY, 100.0 + 2 * SECONDS_PER_DAY, 3.30, 0.0)
    assert fresh.calibrating_since_s is not None  # 7 days after the last, not after the start
    # and a restart in the middle of one goes on with it
    again = drift_of(s, now_s=0.0)
    again.restore(fresh.record(), 0.0, 60.0)
    assert again.charge_cell_mv == 3550.0
    assert "under way" in again.restore(fresh.record(), 0.0, 60.0)[1]
    assert "unreadable" in drift_of(s).restore({"since": 1}, 0.0, 0.0)[0]


@pytest.mark.parametrize(("overrides", "problem"), [
    (["power_limits.charge_cell_voltage_mv=3600"], "above the operating over-voltage limit"),
    (["drift.calibration_cell_voltage_mv=3560"], "above the operating over-voltage limit"),
    (["drift.calibration_interval_days=7", "drift.calibration_cell_voltage_mv=3400"],
     "a calibration charge goes higher"),
])
def test_ceilings_beyond_the_operating_limit_or_upside_down_are_refused(
        overrides: list[str], problem: str) -> None:
    s = settings(*overrides)
    with pytest.raises(ConfigError, match=problem):
        drift_of(s)
