"""Waiting on conditions with deadlines (never a bare sleep as a synchronisation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL_S = 0.005


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``condition`` until it holds; returns the time it took. Fails with ``what``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(timeout_s):
            # the state is updated by callbacks and threads that have no event to await
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s} s: {what}") from None
    return loop.time() - start


def wait_until_sync(condition: Callable[[], bool], timeout_s: float, what: str,
                    poll_s: float = 0.05) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(poll_s)
    return time.monotonic() - start
