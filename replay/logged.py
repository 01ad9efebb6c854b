"""One frame of a log, as every log tool sees it."""

from __future__ import annotations

from typing import NamedTuple

from dbc.codec import CanFrame


class LoggedFrame(NamedTuple):
    time_s: float  # seconds since the first frame of the log
    channel: str | None  # "pack", "vehicle", "sim" when the log says so, else as written
    frame: CanFrame
    is_error_frame: bool = False
