"""E2E results judged over a window: alternation and a steady rate are violations, one
lost frame is not."""

import pytest

from master.diagnosis.e2e_window import E2eWindow


def verdicts(window: E2eWindow, pattern: list[bool]) -> list[bool]:
    return [window.add(error) for error in pattern]


def test_alternating_good_and_bad_frames_are_a_violation() -> None:
    # counted +1 / -1 this pattern never set anything
    out = verdicts(E2eWindow(16, 3), [True, False] * 20)
    assert out[:4] == [False] * 4
    assert all(out[4:])  # from the third error in the window on


def test_one_error_in_a_window_is_tolerated_and_forgotten() -> None:
    window = E2eWindow(16, 3)
    pattern = ([False] * 7 + [True] + [False] * 8) * 4  # one in sixteen
    assert not any(verdicts(window, pattern))


def test_the_violation_ends_when_the_errors_leave_the_window() -> None:
    window = E2eWindow(16, 3)
    assert verdicts(window, [True] * 3)[-1]
    out = verdicts(window, [False] * 16)
    assert out[:13] == [True] * 13  # still three errors among the last sixteen frames
    assert out[13:] == [False] * 3


@pytest.mark.parametrize(("frames", "errors"), [(16, 0), (4, 5), (65, 3)])
def test_impossible_windows_are_refused(frames: int, errors: int) -> None:
    with pytest.raises(ValueError, match="E2E window"):
        E2eWindow(frames, errors)
