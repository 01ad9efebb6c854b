"""Plots: one panel per pattern, series per module and signal, states as steps."""

from pathlib import Path

import pytest

from bms.settings import load_settings
from replay.decoder import LogDecoder, RowFilter
from replay.logfile import read_log
from replay.plot import collect, plot
from tests.replay.logs import lockstep_log


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plot") / "drive.log"
    lockstep_log(path, load_settings(None, ["pack.modules=2"]), seconds=4.0)
    return path


def test_panels_and_series(log: Path, tmp_path: Path) -> None:
    patterns = ["CellVoltage*", "IVT_Result_I", "BmsState"]
    panels = collect(read_log(log), patterns, LogDecoder(), RowFilter(modules={1}))
    assert sorted(panels[0]) == [f"CellVoltages[1].CellVoltage{c:02d}" for c in range(16)]
    assert panels[1] == {}  # module 1 only: the sensor's frames have no module
    panels = collect(read_log(log), patterns, LogDecoder(), RowFilter())
    (current,) = panels[1].values()
    assert current.unit == "mA"
    assert min(current.values) < 0  # the drive profile discharges
    (state,) = panels[2].values()
    assert state.choices[3] == "Normal"
    assert state.values[-1] == 3
    out = tmp_path / "plot.png"
    assert plot(panels, patterns, out, "drive") == 16 * 2 + 2
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000
