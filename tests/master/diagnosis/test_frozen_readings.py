"""A module whose cell voltages all stopped changing is frozen; one group's or a moment's
repetition is not."""

from master.diagnosis.frozen_readings import FrozenReadings

A, B = (3700, 3701, 3702, 3703), (3800, 3801, 3802, 3803)


def test_every_group_unchanged_for_the_time_is_frozen() -> None:
    check = FrozenReadings(2, 10.0)
    verdicts = [check.observe(0, first, A if first == 0 else B, t * 0.1)
                for t in range(120) for first in (0, 4)]
    assert not any(verdicts[:200])  # first seen at 0 s: 10 s not yet passed
    assert all(verdicts[202:])
    assert not check.observe(1, 0, A, 12.0)  # another module: its own clock


def test_one_changing_group_keeps_the_module_alive() -> None:
    check = FrozenReadings(1, 10.0)
    for t in range(200):
        noisy = (3700 + t % 2, 3701, 3702, 3703)
        assert not check.observe(0, 0, noisy, t * 0.1)
        assert not check.observe(0, 4, B, t * 0.1)  # this group never changes


def test_zero_turns_the_check_off() -> None:
    check = FrozenReadings(1, 0.0)
    assert not any(check.observe(0, 0, A, t * 1.0) for t in range(100))
