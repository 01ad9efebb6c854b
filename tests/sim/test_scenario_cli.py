"""`bms sim run`: the files it writes, and clear refusals."""

import json
import subprocess
import sys
from pathlib import Path

SCENARIO = """
[scenario]
name = "cli"
duration_s = 30.0
set = ["pack.modules=1", "pack.cells_per_module=4", "pack.temperature_sensors_per_module=2"]
[[events]]
at_s = 0.0
kind = "drive"
"""


def bms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bms", "sim", "run", *args],
                          capture_output=True, text=True, timeout=300)


def test_writes_the_series_the_plots_the_journal_and_the_summary(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(SCENARIO)
    result = bms(str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert len((out / "timeseries.csv").read_text().splitlines()) == 32  # header + 0..30 s
    assert (out / "plots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "state PRECHARGE -> NORMAL" in (out / "journal.txt").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(result.stdout)
    assert summary["virtual_s"] == 30.0
    assert summary["cells"] == 4
    assert summary["x_real_time"] > 1
    assert "100 %" in result.stderr  # progress, without a terminal: a line every 10 %


def test_a_bad_scenario_or_setting_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(SCENARIO.replace('kind = "drive"', 'kind = "fly"'))
    result = bms(str(tmp_path / "s.toml"))
    assert result.returncode == 2
    assert "events[0].kind: 'fly' is not one of" in result.stderr
    (tmp_path / "s.toml").write_text(SCENARIO)
    result = bms(str(tmp_path / "s.toml"), "--set", "pack.modules=99", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "pack.modules" in result.stderr
    assert bms(str(tmp_path / "missing.toml")).returncode == 2
