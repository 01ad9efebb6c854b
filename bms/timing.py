"""Drift-free periodic schedules: a pure `Schedule` for cores and an async `ticks` for shells."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


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


async def ticks(period_s: float) -> AsyncIterator[float]:
    """Yield the loop time every ``period_s``, without drift; late ticks are not queued up."""
    loop = asyncio.get_running_loop()
    schedule = Schedule(period_s, loop.time())
    while True:
        delay = schedule.next_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        now = loop.time()
        schedule.due(now)
        yield now
