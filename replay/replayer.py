"""`bms log replay`: send a log's frames onto a bus with their original timing
(python-can's MessageSync), faster or slower, once or in a loop, with a progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import can
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from bms.can_port import open_bus
from replay.logfile import read_log
from replay.logged import LoggedFrame


@dataclass
class ReplayStatistics:
    sent: int = 0
    failed: int = 0
    passes: int = 0


def _messages(path: Path, speed: float, ids: set[int]) -> Iterator[can.Message]:
    for logged in read_log(path):
        if logged.is_error_frame or (ids and logged.frame.arbitration_id not in ids):
            continue
        yield _message(logged, speed)


def _message(logged: LoggedFrame, speed: float) -> can.Message:
    frame = logged.frame
    return can.Message(timestamp=logged.time_s / speed, arbitration_id=frame.arbitration_id,
                       data=frame.data, is_extended_id=frame.is_extended_id)


def count_frames(path: Path, ids: set[int]) -> int:
    return sum(1 for logged in read_log(path)
               if not logged.is_error_frame and (not ids or logged.frame.arbitration_id in ids))


def replay(path: Path, bus_kwargs: dict[str, object], speed: float = 1.0, loop: bool = False,
           ids: set[int] | None = None, show_progress: bool = True,
           max_passes: int | None = None) -> ReplayStatistics:
    if speed <= 0:
        raise ValueError("speed must be positive")
    wanted = ids or set()
    total = count_frames(path, wanted)
    stats = ReplayStatistics()
    bus = open_bus(bus_kwargs)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} frames"), TimeRemainingColumn(),
                      disable=not show_progress) as progress:
            while True:
                stats.passes += 1
                task = progress.add_task(f"pass {stats.passes}", total=total)
                for message in can.MessageSync(_messages(path, speed, wanted), timestamps=True):
                    try:
                        bus.send(message, timeout=0.1)
                        stats.sent += 1
                    except can.CanError:
                        stats.failed += 1
                    progress.advance(task)
                if not loop or (max_passes is not None and stats.passes >= max_passes):
                    break
    finally:
        bus.shutdown()
    return stats
