"""The black box keeps a window around each trigger."""

from dbc.codec import CanFrame
from master.blackbox import BlackBox


def test_windows_around_triggers() -> None:
    box = BlackBox(pre_s=1.0, post_s=0.5)
    for step in range(400):  # 4 s of frames, one every 10 ms
        now = step / 100
        box.record("pack", CanFrame(step, b""), now, 1000 + now)
        if step == 200:
            box.trigger("first", now, 1000 + now)
        if step == 250:
            box.trigger("second", now, 1000 + now)
        if step == 260:
            (first,) = box.due(now)
            assert first.reason == "first"
            ids = [r.frame.arbitration_id for r in first.frames]
            assert ids == list(range(100, 251))  # 1 s before, 0.5 s after
            assert first.trigger_wall_s == 1002.0
    (second,) = box.due(3.99)
    assert [r.frame.arbitration_id for r in second.frames] == list(range(150, 301))
    assert box.due(3.99) == []


def test_memory_is_bounded_by_the_window() -> None:
    box = BlackBox(pre_s=1.0, post_s=0.5)
    for step in range(10_000):
        box.record("pack", CanFrame(1, b""), step / 100, 0.0)
    assert len(box._frames) <= 102  # 1 s before now: no trigger is waiting
