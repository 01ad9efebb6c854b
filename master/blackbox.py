"""The black box: the last seconds of both buses, kept in memory, written to a CAN log
around every fatal reaction (``pre_s`` before it, ``post_s`` after).

Pure bookkeeping; the shell writes the captures to disk off the control loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dbc.codec import CanFrame


@dataclass(frozen=True, slots=True)
class Recorded:
    time_s: float  # loop time
    wall_s: float  # for the log's timestamps
    bus: str
    frame: CanFrame  # of an error frame: the error class as the id, and its data
    is_error_frame: bool = False


@dataclass(frozen=True)
class Capture:
    reason: str
    trigger_s: float
    trigger_wall_s: float
    frames: tuple[Recorded, ...]


class BlackBox:
    def __init__(self, pre_s: float, post_s: float) -> None:
        self.pre_s = pre_s
        self.post_s = post_s
        self._frames: deque[Recorded] = deque()
        self._pending: list[tuple[str, float, float]] = []  # reason, loop time, wall time

    def record(self, bus: str, frame: CanFrame, now_s: float, wall_s: float,
               is_error_frame: bool = False) -> None:
        self._frames.append(Recorded(now_s, wall_s, bus, frame, is_error_frame))
        # keep the pre-trigger window of every capture not written yet, and of the next one
        oldest = min((at - self.pre_s for _, at, _ in self._pending), default=now_s) \
            if self._pending else now_s - self.pre_s
        oldest = min(oldest, now_s - self.pre_s)
        while self._frames and self._frames[0].time_s < oldest:
            self._frames.popleft()

    def trigger(self, reason: str, now_s: float, wall_s: float) -> None:
        self._pending.append((reason, now_s, wall_s))

    def due(self, now_s: float) -> list[Capture]:
        """Captures whose post-trigger window has passed."""
        ready = [p for p in self._pending if now_s - p[1] >= self.post_s]
        self._pending = [p for p in self._pending if now_s - p[1] < self.post_s]
        return [
            Capture(reason, at_s, wall_s, tuple(
                r for r in self._frames if at_s - self.pre_s <= r.time_s <= at_s + self.post_s))
            for reason, at_s, wall_s in ready
        ]
