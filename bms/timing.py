"""Drift-free periodic schedules for the pure cores (the shells' async clock: `bms.ticks`)."""

from __future__ import annotations


class Schedule:
    """Fires every ``period_s``; a late check fires once and skips the missed periods."""

    def __init__(self, period_s: float, start_s: float) -> None:
        if period_s <= 0:
            raise ValueError("period must be positive")
        self.period_s = period_s
        self.next_s = start_s

    def due(self, now: float) -> bool:
        # a tolerance of a millionth of a period absorbs float error on exact time grids
        if now < self.next_s - self.period_s * 1e-6:
            return False
        missed = max(0, int((now - self.next_s) // self.period_s))
        self.next_s += (missed + 1) * self.period_s
        return True

