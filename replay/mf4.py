"""python-can's MF4 writer with its data frames appended in blocks.

python-can's `MF4Writer` appends every frame to the file as a block of its own (an asammdf
``extend`` of one sample): about 4,000 frames a second on this machine, less than one busy
500 kbit/s bus, and an hour's log of a 256-cell pack took a quarter of an hour to convert.
This writer keeps python-can's file layout (its channel groups, its header) and hands data
frames to asammdf ``BATCH`` at a time; remote and error frames go through python-can's own
path. What it writes reads back frame for frame as the plain writer's
(tests/replay/test_logfile.py).
"""

from __future__ import annotations

from typing import Any

import can
import numpy as np
from can.io.mf4 import STD_DTYPE, MF4Writer

BATCH = 20_000
DATA_BYTES = 64  # python-can's data-frame layout holds up to CAN FD's 64 bytes


class BatchedMF4Writer(MF4Writer):
    """`can.io.MF4Writer`, classic data frames written ``BATCH`` at a time."""

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._pending: list[tuple[float, int, int, bool, bytes, bool]] = []

    def on_message_received(self, msg: can.Message) -> None:
        if msg.is_remote_frame or msg.is_error_frame or msg.is_fd:
            self._flush()
            super().on_message_received(msg)
            return
        timestamp = msg.timestamp
        self.last_timestamp = max(self.last_timestamp, timestamp)
        channel = can.util.channel2int(msg.channel)
        self._pending.append((timestamp - self._start_time, channel or 0, msg.arbitration_id,
                              msg.is_extended_id, bytes(msg.data), msg.is_rx))
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        rows = np.zeros(len(pending), dtype=STD_DTYPE)
        times = np.fromiter((p[0] for p in pending), dtype="<f8", count=len(pending))
        rows["CAN_DataFrame.BusChannel"] = [p[1] for p in pending]
        rows["CAN_DataFrame.ID"] = [p[2] for p in pending]
        rows["CAN_DataFrame.IDE"] = [int(p[3]) for p in pending]
        lengths = [len(p[4]) for p in pending]
        rows["CAN_DataFrame.DLC"] = lengths
        rows["CAN_DataFrame.DataLength"] = lengths
        rows["CAN_DataFrame.Dir"] = [0 if p[5] else 1 for p in pending]
        padded = b"".join(p[4].ljust(DATA_BYTES, b"\0") for p in pending)
        rows["CAN_DataFrame.DataBytes"] = np.frombuffer(padded, dtype=np.uint8).reshape(
            len(pending), DATA_BYTES)
        self._mdf.extend(0, [(times, None), (rows, None)])

    def stop(self) -> None:
        self._flush()
        super().stop()
