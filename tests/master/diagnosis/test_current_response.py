"""A module whose voltage does not follow the current every other module follows ignores
it; modules of a healthy pack, with their spread of resistance, do not; small swings and
packs without a visible answer are not judged."""

import random

from master.diagnosis.current_response import EVALUATE_PERIOD_S, CurrentResponse, response_mv_per_a

PERIOD_S = 0.1


def run(check: CurrentResponse, currents_a: list[float],
        module_mv: list[object]) -> list[list[bool]]:
    """Samples every 0.1 s; module_mv: per module a function of (current, step) -> mV. The
    verdicts of each evaluation."""
    verdicts = []
    for step, current_a in enumerate(currents_a):
        means = [f(current_a, step) for f in module_mv]  # type: ignore[operator]
        verdict = check.sample(current_a, means, step * PERIOD_S)
        if verdict is not None:
            verdicts.append(verdict)
    return verdicts


def flagged(verdicts: list[list[bool]]) -> list[list[bool]]:
    return [v for v in verdicts if any(v)]


def follows(ohm: float, rng: random.Random) -> object:
    return lambda i, _: 3700.0 + i * ohm * 1000.0 + rng.uniform(-1.0, 1.0)


def load_steps(low_a: float, high_a: float, seconds: float = 20.0) -> list[float]:
    """A load stepping between two currents every 2 s."""
    return [low_a if int(n * PERIOD_S / 2.0) % 2 else high_a
            for n in range(int(seconds / PERIOD_S))]


def test_a_module_replaying_with_noise_ignores_the_current() -> None:
    rng = random.Random(4)
    replay = lambda i, _: 3690.0 + rng.uniform(-2.0, 2.0)  # noqa: E731
    verdicts = run(CurrentResponse(4, 5.0), load_steps(-10.0, -30.0),
                   [follows(0.002, rng), follows(0.0021, rng), replay, follows(0.0019, rng)])
    assert len(flagged(verdicts)) >= len(verdicts) // 2  # the window holds a step
    assert all(v == [False, False, True, False] for v in flagged(verdicts))


def test_a_healthy_pack_with_a_spread_of_resistance_is_not_flagged() -> None:
    rng = random.Random(5)
    modules = [follows(0.002 * rng.uniform(0.7, 1.3), rng) for _ in range(8)]
    # charging and discharging steps alike
    verdicts = run(CurrentResponse(8, 5.0), load_steps(-40.0, 30.0, 60.0), modules)
    assert len(verdicts) > 50
    assert not flagged(verdicts)


def test_a_module_answering_the_wrong_way_ignores_the_current() -> None:
    rng = random.Random(6)
    backwards = follows(-0.002, rng)
    verdicts = flagged(run(CurrentResponse(3, 5.0), load_steps(0.0, -20.0),
                           [follows(0.002, rng), backwards, follows(0.002, rng)]))
    assert verdicts
    assert all(v == [False, True, False] for v in verdicts)


def test_the_verdict_clears_once_the_current_is_steady() -> None:
    rng = random.Random(10)
    steady = [-20.0] * 100
    verdicts = run(CurrentResponse(2, 5.0), load_steps(0.0, -20.0, 4.0) + steady,
                   [follows(0.002, rng), lambda i, _: 3690.0])
    assert any(v[1] for v in verdicts)
    assert verdicts[-1] == [False, False]  # nothing to judge: the entry may clear


def test_small_swings_and_invisible_answers_are_not_judged() -> None:
    rng = random.Random(7)
    replay = lambda i, _: 3690.0  # noqa: E731
    # a swing below the setting
    assert not flagged(run(CurrentResponse(2, 5.0), load_steps(-10.0, -13.0),
                           [follows(0.002, rng), replay]))
    # big cells: 20 A moves them 2 mV, under the visible answer
    assert not flagged(run(CurrentResponse(2, 5.0), load_steps(-10.0, -30.0),
                           [follows(0.0001, rng), replay]))


def test_one_module_has_nothing_to_compare_and_zero_turns_it_off() -> None:
    rng = random.Random(8)
    assert not run(CurrentResponse(1, 5.0), load_steps(0.0, -20.0), [follows(0.002, rng)])
    assert not run(CurrentResponse(2, 0.0), load_steps(0.0, -20.0),
                   [follows(0.002, rng), lambda i, _: 3690.0])  # never evaluated


def test_a_module_without_fresh_readings_is_not_judged() -> None:
    rng = random.Random(9)
    verdicts = run(CurrentResponse(3, 5.0), load_steps(0.0, -20.0),
                   [follows(0.002, rng), lambda i, _: None, follows(0.002, rng)])
    assert verdicts
    assert not flagged(verdicts)


def test_the_slope_is_least_squares() -> None:
    assert response_mv_per_a([0.0, 10.0, 20.0], [3700.0, 3720.0, 3740.0]) == 2.0
    assert response_mv_per_a([5.0, 5.0], [1.0, 2.0]) is None
    assert EVALUATE_PERIOD_S >= PERIOD_S
