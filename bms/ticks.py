"""The async clock of the shells: `ticks` yields the loop time on a drift-free `Schedule`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bms.timing import Schedule


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
