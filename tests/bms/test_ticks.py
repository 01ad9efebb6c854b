"""The shells' async clock does not drift."""

import asyncio
import itertools

from bms.ticks import ticks


async def test_ticks_do_not_drift() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    times = []
    async for now in ticks(0.01):
        times.append(now - start)
        if len(times) == 20:
            break
    # the 20th tick is due at 0.19 s; sleeping 10 ms each time would drift past it
    assert times[-1] < 0.19 + 0.05
    assert all(b > a for a, b in itertools.pairwise(times))
