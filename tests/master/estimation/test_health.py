"""Capacity from charge moved between rest points; R0 from current steps; per cell."""

import numpy as np
import pytest

from master.estimation.health import HealthSettings, HealthTracker

SETTINGS = HealthSettings(min_soc_span=0.3, capacity_gain=1.0, min_step_a=2.0,
                          resistance_gain=1.0)


def test_capacity_from_two_rest_points_far_enough_apart() -> None:
    health = HealthTracker(5.0, 0.023, 3, SETTINGS)
    health.rest_point(np.array([0.2, 0.2, 0.2]), np.zeros(3))
    # a charge: cell 1 is weak (4.5 Ah), cell 2 is not known well enough at the second rest
    health.rest_point(np.array([0.8, 0.8, np.nan]), np.array([3.0, 2.7, 2.9]))
    assert health.capacity_ah[:2] == pytest.approx([5.0, 4.5])
    assert health.capacity_ah[2] == 5.0
    assert health.capacity_updates.tolist() == [1, 1, 0]
    assert health.capacity_ratio()[1] == pytest.approx(0.9)


def test_a_close_rest_point_keeps_the_older_anchor() -> None:
    health = HealthTracker(5.0, 0.023, 1, SETTINGS)
    health.rest_point(np.array([0.2]), np.zeros(1))
    health.rest_point(np.array([0.3]), np.array([0.5]))  # only 10 points: no estimate
    assert health.capacity_updates[0] == 0
    health.rest_point(np.array([0.6]), np.array([2.0]))  # 40 points from the first
    assert health.capacity_ah[0] == pytest.approx(2.0 / 0.4)


def test_resistance_from_a_current_step_normalised_to_25_degc() -> None:
    health = HealthTracker(5.0, 0.023, 2, SETTINGS)
    # a 10 A discharge step: 0.25 V and 0.30 V drops; the cells are cold (factor 2)
    health.current_step(np.array([-0.25, -0.30]), -10.0, np.array([2.0, 2.0]))
    assert health.r0_ohm == pytest.approx([0.0125, 0.015])
    assert health.resistance_ratio()[1] == pytest.approx(0.015 / 0.023)


def test_small_steps_and_nonsense_are_ignored() -> None:
    health = HealthTracker(5.0, 0.023, 2, SETTINGS)
    health.current_step(np.array([-0.01, -0.01]), -1.0, np.ones(2))  # below min_step_a
    health.current_step(np.array([0.05, np.nan]), -10.0, np.ones(2))  # wrong sign, unknown
    assert health.r0_ohm == pytest.approx([0.023, 0.023])
    assert health.resistance_updates.tolist() == [0, 0]
