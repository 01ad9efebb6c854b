"""Every supported format round-trips; python-can's and cantools' own tools read our logs."""

import subprocess
import sys
from pathlib import Path

import can
import pytest

from bms.settings import load_settings
from dbc.database import dbc_path
from replay.logfile import LogError, read_log
from tests.replay.logs import lockstep_log

FORMATS = [".log", ".asc", ".blf", ".csv", ".trc"]


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
    if suffix in (".log", ".asc", ".blf"):  # the formats that keep the bus
        assert [f.channel for f in again] == [f.channel for f in original]


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
