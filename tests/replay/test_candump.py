"""Our candump reader reads what python-can's reader reads, and keeps error classes."""

from pathlib import Path

import can
import pytest

from bms.can_errors import CAN_ERR_BUSOFF, BusCondition, classify
from bms.settings import load_settings
from dbc.codec import CanFrame
from replay.candump import CandumpError, read_candump
from replay.logfile import CANDUMP_CHANNELS, _channel_name
from replay.logged import LoggedFrame
from tests.replay.logs import lockstep_log


def test_a_lockstep_log_reads_as_python_can_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "pack.log"
    lockstep_log(path, load_settings(None, ["pack.modules=2"]), seconds=1.0)
    theirs = list(can.LogReader(str(path)))
    ours = list(read_candump(path, CANDUMP_CHANNELS))
    assert len(ours) == len(theirs) > 100
    first = theirs[0].timestamp
    assert ours == [LoggedFrame(m.timestamp - first, _channel_name(m.channel),
                                CanFrame(m.arbitration_id, bytes(m.data), m.is_extended_id))
                    for m in theirs]


def test_every_kind_of_line(tmp_path: Path) -> None:
    path = tmp_path / "kinds.log"
    path.write_text(
        "(100.500000) vcan0 123#R\n"  # remote: skipped, but the log's time starts here
        "\n"
        "(100.750000) 2 18FF50E5#0102 T\n"  # a numbered channel is that bus
        "(101.000000) vcan0 7FF#\n"  # no data
        "(101.250000) vcan0 123##1AABB\n"  # CAN FD: skipped
        f"(101.500000) pack {0x20000000 | CAN_ERR_BUSOFF:08X}#0000000000000000\n"
        "(102.000000) can1 040#DEADBEEF R\n")
    frames = list(read_candump(path, CANDUMP_CHANNELS))
    assert frames == [
        LoggedFrame(0.25, "vehicle", CanFrame(0x18FF50E5, b"\x01\x02", True)),
        LoggedFrame(0.5, "vcan0", CanFrame(0x7FF, b"", False)),
        LoggedFrame(1.0, "pack", CanFrame(CAN_ERR_BUSOFF, bytes(8), False), True),
        LoggedFrame(1.5, "can1", CanFrame(0x40, b"\xde\xad\xbe\xef", False)),
    ]
    error = frames[2]
    assert classify(error.frame.arbitration_id, error.frame.data) is BusCondition.BUS_OFF


@pytest.mark.parametrize("line", [
    "(1.0) pack 62X#0102", "not a frame at all", "(1.0) pack 123#0", "1.0 pack 123#00",
    "(1.0) pack 123-00", "(1.0) pack 123#00 X", "(x) pack 123#00", "(1.0) pack",
])
def test_a_line_that_is_not_a_frame_is_named(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.log"
    path.write_text(f"(0.5) pack 123#00\n{line}\n")
    with pytest.raises(CandumpError, match=r"bad\.log:2: not a candump frame"):
        list(read_candump(path, CANDUMP_CHANNELS))
