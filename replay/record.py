"""`bms log record`: write what one or more buses carry to a log file, live counts on the
terminal, optional rotation by size or time. Frames keep the interface's timestamps and are
labelled with their bus."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import can

from bms.can_port import CanPort
from replay.buses import BusSpec
from replay.logfile import channel_for, open_writer

PROGRESS_PERIOD_S = 1.0


@dataclass
class RecordStatistics:
    frames: int = 0
    error_frames: int = 0
    files: list[Path] = field(default_factory=list)


class RotatingWriter:
    """A python-can writer that starts a new numbered file by size or by time."""

    def __init__(self, path: Path, max_bytes: int, rotate_s: float, now_s: float) -> None:
        self.base = path
        self.max_bytes = max_bytes
        self.rotate_s = rotate_s
        self.index = 0
        self.closed = False
        self.files: list[Path] = []
        self._open(now_s)

    def _path(self) -> Path:
        if not self.max_bytes and not self.rotate_s:
            return self.base
        return self.base.with_name(f"{self.base.stem}.{self.index:03d}{self.base.suffix}")

    def _open(self, now_s: float) -> None:
        self.path = self._path()
        self.writer: Any = open_writer(self.path)
        self.opened_s = now_s
        self.files.append(self.path)

    def write(self, message: can.Message) -> None:
        if not self.closed:
            self.writer.on_message_received(message)

    def maybe_rotate(self, now_s: float) -> None:
        too_old = self.rotate_s and now_s - self.opened_s >= self.rotate_s
        too_big = self.max_bytes and self.path.exists() and \
            self.path.stat().st_size >= self.max_bytes
        if too_old or too_big:
            self.writer.stop()
            self.index += 1
            self._open(now_s)

    def close(self) -> None:
        self.closed = True
        self.writer.stop()


async def record(buses: list[BusSpec], path: Path, max_bytes: int = 0, rotate_s: float = 0.0,
                 duration_s: float | None = None, out: TextIO = sys.stderr) -> RecordStatistics:
    loop = asyncio.get_running_loop()
    stats = RecordStatistics()
    writer = RotatingWriter(path, max_bytes, rotate_s, loop.time())
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ports = [CanPort(bus.kwargs, f"record/{bus.name}") for bus in buses]

    def recorder(bus: BusSpec) -> Any:
        channel = channel_for(path, bus.name)

        def on_message(message: can.Message) -> None:
            message.channel = channel
            if not message.timestamp:
                message.timestamp = time.time()
            writer.write(message)
            stats.frames += 1
            stats.error_frames += message.is_error_frame
        return on_message

    try:
        for bus, port in zip(buses, ports, strict=True):
            await port.__aenter__()
            port.subscribe_messages(recorder(bus))
        started = loop.time()
        last_frames, last_s = 0, started
        while not stop.is_set():
            wait_s = PROGRESS_PERIOD_S
            if duration_s is not None:
                wait_s = min(wait_s, max(started + duration_s - loop.time(), 0.0))
            try:
                async with asyncio.timeout(wait_s):
                    await stop.wait()
            except TimeoutError:
                pass
            now = loop.time()
            finished = duration_s is not None and now - started >= duration_s
            if not finished:
                writer.maybe_rotate(now)
            rate = (stats.frames - last_frames) / max(now - last_s, 1e-3)
            last_frames, last_s = stats.frames, now
            unreadable = sum(p.statistics.rx_errors for p in ports)
            out.write(f"\r{writer.path.name}: {stats.frames} frames, {rate:6.0f} frames/s, "
                      f"{stats.error_frames} error frames, {unreadable} unreadable   ")
            out.flush()
            if finished:
                break
    finally:
        for port in ports:
            port.close()
        await asyncio.sleep(0)  # frames already handed to the loop still get written
        writer.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        out.write("\n")
    stats.files = writer.files
    return stats
