"""Every supported format round-trips; python-can's and cantools' own tools read our logs."""

import subprocess
import sys
from pathlib import Path

import can
import pytest

from bms.settings import load_settings
from dbc.database import dbc_path
from replay.logfile import LogError, convert_log, read_log
from tests.replay.logs import lockstep_log

FORMATS = [".log", ".asc", ".blf", ".csv", ".trc", ".mf4"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "source.log"
    lockstep_log(path, load_settings(None, ["pack.modules=2"]), seconds=1.0)
    return path


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_round_trips(source: Path, tmp_path: Path, suffix: str) -> None:
    original = list(read_log(source))
    path = tmp_path / f"copy{suffix}"
    with can.Logger(str(path)) as writer:
        for logged in original:
            writer.on_message_received(can.Message(
                timestamp=1000.0 + logged.time_s, arbitration_id=logged.frame.arbitration_id,
                data=logged.frame.data, is_extended_id=logged.frame.is_extended_id,
                channel={"pack": 1, "vehicle": 2}[str(logged.channel)]
                if suffix != ".log" else logged.channel))
    again = list(read_log(path))
    assert [(f.frame, round(f.time_s, 3)) for f in again] == \
        [(f.frame, round(f.time_s, 3)) for f in original]
    if suffix in (".log", ".asc", ".blf", ".mf4"):  # the formats that keep the bus
        assert [f.channel for f in again] == [f.channel for f in original]


@pytest.mark.parametrize("suffix", [".mf4", ".blf", ".log"])
def test_convert_keeps_every_frame_its_time_and_its_bus(source: Path, tmp_path: Path,
                                                       suffix: str) -> None:
    target = tmp_path / f"converted{suffix}"
    original = list(read_log(source))
    assert convert_log(source, target) == len(original)
    again = list(read_log(target))
    assert [(f.frame, f.channel, f.is_error_frame) for f in again] == \
        [(f.frame, f.channel, f.is_error_frame) for f in original]
    assert max(abs(a.time_s - b.time_s) for a, b in zip(again, original, strict=True)) < 1e-5
    with pytest.raises(LogError, match="the output is the input"):
        convert_log(target, target)


def test_the_batched_mf4_writer_writes_what_python_cans_own_writes(source: Path,
                                                                   tmp_path: Path) -> None:
    from replay import mf4

    plain, batched = tmp_path / "plain.mf4", tmp_path / "batched.mf4"
    messages = [can.Message(timestamp=1000.0 + f.time_s, arbitration_id=f.frame.arbitration_id,
                            data=f.frame.data, is_extended_id=f.frame.is_extended_id,
                            channel={"pack": 1, "vehicle": 2}[str(f.channel)])
                for f in read_log(source)]
    messages.insert(5, can.Message(timestamp=1000.001, arbitration_id=0x40, data=bytes(8),
                                   is_error_frame=True, channel=1))
    with can.Logger(str(plain)) as writer:
        for message in messages:
            writer.on_message_received(message)
    old_batch, mf4.BATCH = mf4.BATCH, 7  # several blocks, and a part-filled last one
    try:
        writer = mf4.BatchedMF4Writer(str(batched))
        for message in messages:
            writer.on_message_received(message)
        writer.stop()
    finally:
        mf4.BATCH = old_batch

    def frames(path: Path) -> list[tuple[object, ...]]:
        return [(round(m.timestamp, 5), m.arbitration_id, m.is_extended_id, bytes(m.data),
                 m.channel, m.is_error_frame) for m in can.LogReader(str(path))]
    assert frames(batched) == frames(plain)
    assert len(frames(batched)) == len(messages)


def test_our_mf4_is_read_by_asammdf_itself(source: Path, tmp_path: Path) -> None:
    """An independent reader: asammdf's own, on the bus-logging groups python-can writes."""
    from asammdf import MDF

    target = tmp_path / "pack.mf4"
    count = convert_log(source, target)
    with MDF(str(target)) as mdf:
        ids = mdf.get("CAN_DataFrame.ID").samples
    assert len(ids) == count
    assert set(int(i) for i in ids) == {f.frame.arbitration_id for f in read_log(source)}


def test_our_logs_are_read_by_python_can(source: Path) -> None:
    messages = list(can.LogReader(str(source)))
    assert len(messages) == len(list(read_log(source)))
    assert {m.channel for m in messages} == {"pack", "vehicle"}


def test_our_candump_logs_are_read_by_cantools_decode(source: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cantools", "decode", "--single-line", str(dbc_path("pack.dbc"))],
        stdin=source.open("rb"), capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "CellVoltages(" in text
    assert "CellVoltage00:" in text
    assert "MasterHeartbeat(" in text


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="unsupported log format"):
        list(read_log(tmp_path / "x.pcap"))
    with pytest.raises(LogError, match="no such log file"):
        list(read_log(tmp_path / "missing.log"))
    garbage = tmp_path / "garbage.log"
    garbage.write_text("(1.0) pack 62X#0102\nnot a frame at all\n")
    with pytest.raises(LogError, match="malformed log"):
        list(read_log(garbage))
