"""Schedules fire once per period, drift-free, and skip what was missed."""

import pytest

from bms.timing import Schedule


def test_schedule_fires_at_each_period() -> None:
    schedule = Schedule(0.1, start_s=10.0)
    fired = [t for t in (9.99, 10.0, 10.05, 10.1, 10.15, 10.2) if schedule.due(t)]
    assert fired == [10.0, 10.1, 10.2]


def test_late_check_fires_once_and_keeps_the_grid() -> None:
    schedule = Schedule(0.1, start_s=0.0)
    assert schedule.due(0.0)
    assert schedule.due(0.55)  # five periods late: one firing, not five
    assert not schedule.due(0.58)
    assert schedule.next_s == pytest.approx(0.6)


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Schedule(0.0, 0.0)

