"""`bms cell fit` as docs/cells.md tells a new user to run it, on the shipped examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from bms.chemistry import Chemistry, cell_from_file
from bms.cli import main
from cells.shipped import DATA

EXAMPLES = DATA / "examples"


def test_the_documented_fit_writes_a_cell_the_pack_can_use(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "my-cell.toml"
    assert main(["cell", "fit", *(str(EXAMPLES / f"lg-m50-{t}.csv.gz")
                                  for t in ("ocv", "hppc", "power")),
                 "-o", str(output), "--chemistry", "nmc"]) == 0
    said = capsys.readouterr().out
    assert "power test: " in said
    assert "full-length pulses" in said
    for suffix in (".toml", "-ocv.csv", "-circuit.csv", "-pulses.csv", ".png"):
        assert Path(f"{tmp_path / 'my-cell'}{suffix}").stat().st_size > 0
    cell = cell_from_file(str(output), Chemistry.NMC)
    assert cell.pulses.seconds == 10.0
    assert cell.pulses.temperatures_degc == (25.0,)
    assert [round(c.c_rate, 1) for c in cell.pulses.discharge[0]] == \
        [0.2, 0.5, 1.0, 2.0, 2.9, 3.9, 4.9, 5.9]  # of the fitted 5.11 Ah
