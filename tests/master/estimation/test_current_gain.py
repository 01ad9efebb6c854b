"""The current sensor's gain from full cycles: measured between a full point and a rest
point far enough apart, bounded, and kept across a restart."""

import math

import numpy as np
import pytest

from master.estimation.current_gain import CurrentGain, Reference, describe

CELLS = 4


def reference(soc: float, counted: float, full: bool) -> Reference:
    return Reference(np.full(CELLS, soc), np.full(CELLS, counted), full)


def learner(max_pct: float = 2.0, weight: float = 1.0) -> CurrentGain:
    return CurrentGain(max_pct / 100, 0.5, weight)


@pytest.mark.parametrize("error_pct", [1.0, -1.0, 0.3])
def test_a_full_cycle_measures_the_sensors_gain(error_pct: float) -> None:
    """Full at 99 %, rested at 10 %: the sensor counted (1 + error) x the 89 points."""
    gain = learner()
    assert gain.reference(reference(0.99, 0.0, full=True)) is None  # the first: an anchor
    counted = -(0.99 - 0.10) * (1 + error_pct / 100)
    change = gain.reference(reference(0.10, counted, full=False))
    assert change is not None
    assert gain.gain == pytest.approx(1 + error_pct / 100)
    assert not change.clamped
    assert gain.corrected(1 + error_pct / 100) == pytest.approx(1.0)
    # the other half of the cycle says the same
    change = gain.reference(reference(0.99, counted + (0.99 - 0.10) * (1 + error_pct / 100),
                                      full=True))
    assert change is not None
    assert change.measured == pytest.approx(1 + error_pct / 100)
    assert gain.gain == pytest.approx(1 + error_pct / 100)


def test_a_rest_point_near_the_full_point_does_not_lose_it() -> None:
    """A rest at the top (every cell's OCV steep, as on NMC) between the full point and the
    rest at the bottom: the bottom still pairs with the full point."""
    gain = learner()
    gain.reference(reference(0.99, 0.0, full=True))
    assert gain.reference(reference(0.97, -0.02 * 1.01, full=False)) is None  # 2 points
    assert gain.reference(reference(0.10, -0.89 * 1.01, full=False)) is not None
    assert gain.gain == pytest.approx(1.01)


def test_an_error_beyond_the_bound_is_clamped_and_says_so() -> None:
    gain = learner(max_pct=2.0)
    gain.reference(reference(0.10, 0.0, full=False))
    change = gain.reference(reference(0.99, 0.89 * 1.05, full=True))
    assert change is not None
    assert change.measured == pytest.approx(1.05)
    assert gain.gain == pytest.approx(1.02)
    assert change.clamped
    assert "clamped at the bound from +5.00 %" in describe(change)
    assert "+0.00 % -> +2.00 %" in describe(change)


def test_no_gain_without_a_full_point_or_from_a_short_span() -> None:
    gain = learner()
    gain.reference(reference(0.10, 0.0, full=False))
    assert gain.reference(reference(0.70, 0.65, full=False)) is None  # two rest points
    assert gain.reference(reference(0.99, 0.95, full=True)) is None  # 29 points: too short
    assert gain.reference(reference(0.98, 0.95, full=True)) is None  # full to full: no span
    assert gain.gain == 1.0


def test_only_cells_known_at_both_references_count() -> None:
    gain = learner()
    full = Reference(np.array([0.99, math.nan, math.nan, math.nan]), np.zeros(CELLS), True)
    gain.reference(full)
    # the unknown cells counted nonsense: it must not matter
    rest = Reference(np.full(CELLS, 0.10), np.array([-0.89 * 1.01, 5.0, 5.0, 5.0]), False)
    assert gain.reference(rest) is not None
    assert gain.gain == pytest.approx(1.01)


def test_a_weight_below_one_moves_part_of_the_way() -> None:
    gain = learner(weight=0.5)
    gain.reference(reference(0.99, 0.0, full=True))
    gain.reference(reference(0.10, -0.89 * 1.01, full=False))
    assert gain.gain == pytest.approx(1.005)


def test_no_learning_with_a_zero_bound() -> None:
    gain = learner(max_pct=0.0)
    gain.reference(reference(0.99, 0.0, full=True))
    assert gain.reference(reference(0.10, -0.95, full=False)) is None
    assert gain.gain == 1.0


def test_the_gain_and_its_anchor_survive_a_restart() -> None:
    old = learner()
    old.reference(reference(0.10, 0.0, full=False))
    old.reference(reference(0.99, 0.89 * 1.01, full=True))
    counted_now = np.full(CELLS, 0.89 * 1.01 - 0.30)  # 30 points down since the full point
    record = old.record(counted_now)
    fresh = learner()
    fresh.restore(record, np.zeros(CELLS))  # a restart: the running sum starts again
    assert fresh.gain == pytest.approx(old.gain)
    assert fresh.full is not None
    assert fresh.rest is not None
    # the rest of the discharge, counted after the restart, closes the cycle with the full point
    change = fresh.reference(reference(0.10, -(0.89 * 1.01 - 0.30), full=False))
    assert change is not None
    assert change.counted_span == pytest.approx(-0.89 * 1.01)
    assert change.measured == pytest.approx(1.01)
    narrower = learner(max_pct=0.5)
    narrower.restore(record, np.zeros(CELLS))
    assert narrower.gain == pytest.approx(1.005)  # a gain beyond a narrower bound: at it
    with pytest.raises(ValueError, match="cells"):
        learner().restore(record, np.zeros(CELLS + 1))
