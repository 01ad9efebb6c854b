"""The current sensor's zero, learned with the circuit open."""

from __future__ import annotations

import pytest

from master.estimation.current_zero import SETTLE_S, CurrentZero


def feed(zero: CurrentZero, reading_a: float, open_circuit: bool, start_s: float,
         seconds: float, period_s: float = 0.01) -> float:
    steps = round(seconds / period_s)
    for n in range(steps):
        zero.sample(reading_a, open_circuit, start_s + n * period_s)
    return start_s + steps * period_s


def test_learns_the_offset_while_open_and_removes_it() -> None:
    zero = CurrentZero(time_constant_s=30.0, max_a=2.0)
    feed(zero, 0.05, True, 0.0, SETTLE_S + 30.0)
    assert zero.offset_a == pytest.approx(0.05, abs=0.002)
    assert zero.corrected(10.05) == pytest.approx(10.0, abs=0.002)


def test_nothing_is_learned_while_current_can_flow_or_settling() -> None:
    zero = CurrentZero(time_constant_s=30.0, max_a=2.0)
    end = feed(zero, 25.0, False, 0.0, 60.0)  # closed: a real current
    feed(zero, 3.0, True, end, SETTLE_S * 0.9)  # just opened: the DC link still discharging
    assert zero.offset_a == 0.0


def test_closing_keeps_the_learned_zero() -> None:
    zero = CurrentZero(time_constant_s=5.0, max_a=2.0)
    end = feed(zero, -0.08, True, 0.0, 20.0)
    feed(zero, 40.0, False, end, 60.0)
    assert zero.offset_a == pytest.approx(-0.08, abs=0.002)


def test_a_reading_no_offset_could_give_is_not_learned() -> None:
    zero = CurrentZero(time_constant_s=5.0, max_a=2.0)
    end = feed(zero, 0.05, True, 0.0, 20.0)
    feed(zero, 40.0, True, end, 20.0)  # "open", yet 40 A: the feedback lags, or a fault
    assert zero.offset_a == pytest.approx(0.05, abs=0.002)


def test_an_implausible_zero_is_not_applied() -> None:
    zero = CurrentZero(time_constant_s=5.0, max_a=2.0)
    feed(zero, 5.0, True, 0.0, 30.0)
    assert zero.learned_a == 0.0  # a fault for the diagnosis, not an offset: not learned
    assert zero.offset_a == 0.0


def test_disabled() -> None:
    zero = CurrentZero(time_constant_s=0.0, max_a=2.0)
    feed(zero, 0.05, True, 0.0, 60.0)
    assert zero.offset_a == 0.0
