"""Reading and writing CAN logs in any format python-can knows, chosen by the extension.

Frames are labelled with the bus they came from: ``pack``, ``vehicle`` or ``sim`` as the
channel in candump ``.log`` files; formats that only carry channel numbers get 1, 2, 3.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import can

from bms.errors import BmsError
from dbc.codec import CanFrame
from replay.candump import CandumpError, read_candump
from replay.logged import LoggedFrame

SUPPORTED = (".log", ".asc", ".blf", ".csv", ".trc", ".mf4")
MF4_HINT = "MF4 needs asammdf: pip install -e '.[logs]' (or pip install 'python-can[mf4]')"
CHANNEL_NUMBERS = {"pack": 1, "vehicle": 2, "sim": 3}
CANDUMP_CHANNELS = {str(number): name for name, number in CHANNEL_NUMBERS.items()}


class LogError(BmsError):
    """A log file cannot be read or written."""


def check_format(path: Path) -> None:
    if path.suffix.lower() not in SUPPORTED:
        raise LogError(f"{path}: unsupported log format {path.suffix!r} "
                       f"(use one of {', '.join(SUPPORTED)})")


def read_log(path: Path) -> Iterator[LoggedFrame]:
    """Every frame of a log, in file order, with times relative to the first frame."""
    check_format(path)
    if not path.exists():
        raise LogError(f"{path}: no such log file")
    if path.suffix.lower() == ".log":
        try:
            yield from read_candump(path, CANDUMP_CHANNELS)
        except CandumpError as exc:
            raise LogError(f"malformed log: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise LogError(f"{path}: malformed log: {exc}") from exc
        return
    try:
        reader = can.LogReader(str(path))
    except ImportError as exc:
        raise LogError(f"{path}: {MF4_HINT} ({exc})") from exc
    except (OSError, ValueError) as exc:
        raise LogError(f"{path}: cannot open: {exc}") from exc
    first: float | None = None
    try:
        for message in reader:
            if first is None:
                first = message.timestamp
            if message.is_remote_frame or message.is_fd:
                continue
            yield LoggedFrame(
                message.timestamp - first,
                _channel_name(message.channel),
                CanFrame(message.arbitration_id, bytes(message.data), message.is_extended_id),
                message.is_error_frame,
            )
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise LogError(f"{path}: malformed log: {exc}") from exc
    finally:
        stop = getattr(reader, "stop", None)
        if stop is not None:
            stop()


def _channel_name(channel: Any) -> str | None:
    if channel is None:
        return None
    if isinstance(channel, int):
        for name, number in CHANNEL_NUMBERS.items():
            if number == channel:
                return name
    return str(channel)


def channel_for(path: Path, bus: str) -> str | int:
    """How a frame of ``bus`` is labelled in a log of this format."""
    if path.suffix.lower() == ".log":
        return bus
    return CHANNEL_NUMBERS.get(bus, 1)


def open_writer(path: Path, max_bytes: int = 0) -> Any:
    """A python-can writer for the path's format; rotating by size when max_bytes > 0."""
    check_format(path)
    try:
        if max_bytes > 0:
            return can.SizedRotatingLogger(str(path), max_bytes=max_bytes)
        if path.suffix.lower() == ".mf4":
            from replay.mf4 import BatchedMF4Writer

            return BatchedMF4Writer(str(path))
        return can.Logger(str(path))
    except ImportError as exc:
        raise LogError(f"{path}: {MF4_HINT} ({exc})") from exc
    except (OSError, ValueError) as exc:
        raise LogError(f"{path}: cannot write: {exc}") from exc


def convert_log(source: Path, target: Path, base_time_s: float | None = None) -> int:
    """Every frame of ``source`` into ``target`` (its format by the extension), each on the
    channel that names its bus there, its time from the first frame on ``base_time_s``
    (default: now); returns the frame count."""
    if base_time_s is None:
        base_time_s = time.time()
    if target.resolve() == source.resolve():
        raise LogError(f"{target}: the output is the input")
    frames = read_log(source)
    writer = open_writer(target)
    count = 0
    try:
        for logged in frames:
            channel = channel_for(target, logged.channel) if logged.channel else 1
            writer.on_message_received(to_message(logged, channel, base_time_s))
            count += 1
    finally:
        writer.stop()
    return count


def to_message(logged: LoggedFrame, channel: str | int, base_time_s: float) -> can.Message:
    frame = logged.frame
    return can.Message(timestamp=base_time_s + logged.time_s, arbitration_id=frame.arbitration_id,
                       data=frame.data, is_extended_id=frame.is_extended_id, channel=channel,
                       is_error_frame=logged.is_error_frame)
