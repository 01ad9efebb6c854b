"""`bms log ...` as a user runs it."""

import subprocess
import sys
from pathlib import Path

import pytest

from bms.cli import main
from bms.settings import load_settings
from tests.replay.logs import lockstep_log
from tests.replay.test_resim import drift


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "drift.log"
    lockstep_log(path, load_settings(None, ["pack.modules=2"]), seconds=8.0, script=drift)
    return path


def test_decode_to_csv(log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "decoded.csv"
    assert main(["log", "decode", str(log), "--module", "1", "--signal", "CellVoltage03",
                 "--start", "6", "--end", "7", "--format", "csv", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("time_s,bus,channel,id,message,module,e2e,signal,value,unit")
    assert len(lines) == 1 + 11  # 6.0 .. 7.0 s, every 100 ms
    assert all(",CellVoltage03," in line for line in lines[1:])


def test_decode_refuses_what_it_cannot_read(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "decode", str(tmp_path / "missing.log")]) == 2
    assert "no such log file" in capsys.readouterr().err
    assert main(["log", "decode", str(tmp_path / "x.mp4")]) == 2
    assert "unsupported log format" in capsys.readouterr().err


def test_resim_compare_exit_codes(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "resim", str(log), "--set", "pack.modules=2", "--compare"]) == 0
    assert "no divergence" in capsys.readouterr().out
    assert main(["log", "resim", str(log), "--set", "pack.modules=2", "--compare",
                 "--set", "limits.cell_overvoltage_mv=[4150,4200,4300]"]) == 1
    assert "first divergence" in capsys.readouterr().out


def test_resim_is_byte_for_byte_repeatable(log: Path) -> None:
    command = [sys.executable, "-m", "bms", "log", "resim", str(log), "--set", "pack.modules=2"]
    first = subprocess.run(command, capture_output=True, check=True, timeout=120).stdout
    again = subprocess.run(command, capture_output=True, check=True, timeout=120).stdout
    assert first == again
    assert b"cell_overvoltage_msl set (fatal) at module 1 #3" in first


def test_resim_warns_when_the_configuration_does_not_fit(
        log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["log", "resim", str(log)])  # the default pack has 8 modules
    assert "modules the log never carries (2..7)" in capsys.readouterr().out


def test_plot_and_replay_and_record(log: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "cells.png"
    assert main(["log", "plot", str(log), "--signal", "CellVoltage*", "--signal", "BmsState",
                 "--module", "1", "-o", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert main(["log", "replay", str(log), "--onto", "virtual:cli-test", "--speed", "50",
                 "--id", "0x020"]) == 0
    assert "sent 80 frames in 1 pass(es), 0 failed" in capsys.readouterr().out
    assert main(["log", "record", str(tmp_path / "r.log"), "--bus", "virtual:cli-rec",
                 "--duration", "0.3"]) == 0
    assert "recorded 0 frames" in capsys.readouterr().out
