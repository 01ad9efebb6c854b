"""Reading candump ``.log`` files (``(time) channel id#data [R|T]``) without python-can.

The log tools read hours of frames, and python-can's reader builds a ``can.Message`` per
line, several times the cost of the rest of `bms log decode`. This reader takes the same
lines: classic frames (3 hex digits: standard id, 8: extended), remote frames and CAN FD
frames (both skipped, as `read_log` does for every format), and error frames, whose
error class stays in the id (as SocketCAN and candump write it; python-can's reader drops
it). A channel written as a number is the bus of that number in our other formats.
A line it cannot read is a `CandumpError` naming the file and line (`read_log` makes it a
`LogError`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bms.can_errors import CAN_ERR_FLAG
from bms.errors import BmsError
from dbc.codec import CanFrame
from replay.logged import LoggedFrame

CAN_ID_MASK = 0x1FFFFFFF
DIRECTIONS = ("R", "T", "r", "t")


class CandumpError(BmsError):
    """A candump line that is not a frame."""


def read_candump(path: Path, channel_names: dict[str, str]) -> Iterator[LoggedFrame]:
    """Every classic frame, in file order, with times relative to the first line's.
    ``channel_names`` renames channels as written (``"1"`` -> ``"pack"``)."""
    channels: dict[str, str] = {}
    first_s: float | None = None
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                stamp, written, frame = parts[0], parts[1], parts[2]
                if (len(parts) > 3 and (len(parts) > 4 or parts[3] not in DIRECTIONS)) or \
                        stamp[0] != "(" or stamp[-1] != ")":
                    raise ValueError("not (time) channel id#data")
                time_s = float(stamp[1:-1])
                ident, hash_sign, data = frame.partition("#")
                if not hash_sign:
                    raise ValueError("no # in the frame")
                can_id = int(ident, 16)
                if first_s is None:
                    first_s = time_s
                if data[:1] in ("#", "R", "r"):  # CAN FD or remote: skipped
                    continue
                payload = bytes.fromhex(data)
            except (ValueError, IndexError) as exc:
                raise CandumpError(f"{path}:{number}: not a candump frame: {line.strip()!r}"
                                   f" ({exc})") from exc
            channel = channels.get(written)
            if channel is None:
                channel = channels[written] = channel_names.get(written, written)
            if can_id & CAN_ERR_FLAG:
                yield LoggedFrame(time_s - first_s, channel,
                                  CanFrame(can_id & CAN_ID_MASK, payload, False), True)
            else:
                yield LoggedFrame(time_s - first_s, channel,
                                  CanFrame(can_id, payload, len(ident) > 3))
