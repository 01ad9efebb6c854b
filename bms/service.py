"""Running one long-lived asyncio service as a process: signals, logging, exit codes, stats.

SIGINT and SIGTERM cancel the service's main task, so its ``finally`` blocks run (the safe
state) and the process exits 0. Anything else that escapes is logged and exits 1.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bms.errors import BmsError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def setup_logging(level: str, role: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {role}[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_service(main: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """Run ``main()`` until it returns or a stop signal arrives; returns the exit code."""

    async def supervised() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        # what exists now (modules, DBC databases) lives as long as the process: keep the
        # collector from walking it again and again inside the control loop
        gc.collect()
        gc.freeze()
        try:
            await main()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    try:
        asyncio.run(supervised())
    except asyncio.CancelledError:
        return EXIT_OK
    except BmsError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    except Exception:
        log.exception("service failed")
        return EXIT_FAILURE
    return EXIT_OK


def set_realtime_priority(priority: int) -> str:
    """Ask for SCHED_FIFO at ``priority``; returns what happened, for the log."""
    if priority <= 0:
        return "normal scheduling"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, AttributeError, OSError) as exc:
        return f"real-time priority {priority} refused ({exc}); normal scheduling"
    return f"SCHED_FIFO priority {priority}"


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file so that a reader never sees half of it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    temporary.replace(path)
