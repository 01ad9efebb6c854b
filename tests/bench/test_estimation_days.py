"""The estimator on a stored PyBaMM DFN day: a plant we did not write, its own SOC the truth.
Three hours of the LG M50's 25 degC day (a rested start, a drive, a rest, a charge)."""

from __future__ import annotations

import pytest

from bench.estimation_days import CLEAN, PREVIOUS, replay, targets, true_capacity_ah
from cells.days import DAYS, Day, load_day

DAY = DAYS / "lg-m50-25c-ev.npz"
HOURS = 3.0


@pytest.fixture(scope="module")
def day() -> Day:
    return load_day(DAY)


def test_the_stored_day_is_a_dfn_day_with_its_own_soc(day: Day) -> None:
    assert (day.meta["model"], day.meta["parameters"]) == ("DFN", "Chen2020")
    assert day.time_s[-1] > 20 * 3600
    assert 0.0 < day.soc_true.min() < day.soc_true.max() <= 1.0
    assert true_capacity_ah(day) == pytest.approx(5.16, abs=0.05)  # the DFN's, not 5.0


def test_the_estimator_holds_on_the_dfn_day(day: Day) -> None:
    tuned = replay(day, until_s=HOURS * 3600)
    met = targets(tuned)
    missed = [k for k in ("max", "rms", "vs_cc") if not met[k]]
    assert missed == [], tuned
    assert tuned.within_3_sigma >= 0.95


def test_the_previous_estimator_drifts_on_the_same_hours(day: Day) -> None:
    # what the tuning is for: the defaults' corrections under load turn the DFN's
    # polarisation into SOC
    previous = replay(day, until_s=HOURS * 3600, overrides=PREVIOUS)
    assert previous.soc_max_error_pct > 2.0


def test_clean_sensors_count_exactly_where_the_estimator_only_counts(day: Day) -> None:
    clean = replay(day, CLEAN, until_s=0.5 * 3600)
    assert clean.cc_max_error_pct < 0.3
