"""`bms fleet resim` on a local Dask cluster of two workers: every log's result in order, the
one log whose master ran other limits named with its divergence, a broken log reported and
never fatal for the others."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bms.cli import main
from bms.settings import load_settings
from dbc.frames import MasterState
from replay.fleet import LogResult, run_fleet
from tests.replay.logs import lockstep_log
from tests.replay.test_resim import SETTINGS, drift, expected_trip_s

pytestmark = pytest.mark.multiprocess  # worker processes, TCP on 127.0.0.1
OTHER_LIMITS = "limits.cell_overvoltage_mv=[4150,4200,4300]"


@pytest.fixture(scope="module")
def fleet_logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("fleet")
    logs = []
    for name, overrides, seconds in (("a", [], 9.0), ("b", [], 7.0),
                                     ("other-limits", [OTHER_LIMITS], 9.0)):
        path = folder / f"{name}.log"
        pack = lockstep_log(path, load_settings(None, [*SETTINGS, *overrides]), seconds,
                            script=drift)
        assert pack.master.state is MasterState.ERROR
        logs.append(path)
    broken = folder / "broken.log"
    broken.write_text("(1764000000.000000) pack 123#zz not a frame\n")
    return [*logs, broken]


def test_every_log_once_in_order_with_its_divergence_or_its_error(
        fleet_logs: list[Path]) -> None:
    seen: list[LogResult] = []
    results = run_fleet([str(p) for p in fleet_logs], None, SETTINGS, compare=True, workers=2,
                        on_result=seen.append)
    assert [r.log for r in results] == [str(p) for p in fleet_logs]
    assert sorted(r.log for r in seen) == sorted(r.log for r in results)
    same_a, same_b, other, broken = results
    for r in (same_a, same_b):
        assert r.ok
        assert r.divergence is None
        assert r.trips == 1
        assert r.frames > 1000
        assert r.compared >= 10
    assert other.ok
    assert other.divergence is not None
    # the fleet's configuration trips where the log's master (4300 mV) did not yet
    assert other.divergence_s == pytest.approx(
        expected_trip_s(fleet_logs[2], 4250, 3), abs=0.15)
    assert not broken.ok
    assert broken.frames == 0
    assert broken.error


def test_the_command_prints_the_table_writes_it_and_exits_1_on_a_divergence(
        fleet_logs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table, summary = tmp_path / "fleet.csv", tmp_path / "fleet.json"
    code = main(["fleet", "resim", *map(str, fleet_logs[:3]), "--compare", "--workers", "2",
                 *[a for s in SETTINGS for a in ("--set", s)],
                 "--csv", str(table), "--json", str(summary)])
    assert code == 1  # one log diverged
    out = capsys.readouterr().out
    assert "# 3 logs" in out
    assert "1 diverged" in out
    assert "0 failed" in out
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["log"]).name for r in rows] == ["a.log", "b.log", "other-limits.log"]
    assert json.loads(summary.read_text())["summary"]["diverged"] == 1
    # the same fleet with the limits its third master ran: that one agrees, the others not
    assert main(["fleet", "resim", str(fleet_logs[2]), "--compare", "--workers", "1",
                 *[a for s in [*SETTINGS, OTHER_LIMITS] for a in ("--set", s)]]) == 0
