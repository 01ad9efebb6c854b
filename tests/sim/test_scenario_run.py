"""Scenarios on the lockstep pack: the events act, the rows tell the truth beside the
estimates, and the same scenario gives the same files bit for bit."""

import csv
import io
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bms.settings import load_settings
from sim.scenario import Scenario, parse_scenario
from sim.scenario_cli import execute
from sim.scenario_run import COLUMNS, ScenarioRun

SMALL = ["sim.vcu.request=standby", "pack.modules=1", "pack.cells_per_module=4",
         "pack.temperature_sensors_per_module=2", "sim.cells.voltage_noise_mv=2.0",
         "sim.current_sensor.offset_a=0.05", "sim.current_sensor.gain_error_pct=0.5"]


def scenario(events: str, duration_s: float = 240.0, header: str = "") -> Scenario:
    text = f'[scenario]\nname = "t"\nduration_s = {duration_s}\n{header}\n{events}'
    return parse_scenario(tomllib.loads(text), Path("."))


def run(s: Scenario, *overrides: str, cells: bool = False) -> tuple[list[dict], ScenarioRun]:
    runner = ScenarioRun(s, load_settings(None, [*SMALL, *overrides]), cell_columns=cells)
    return list(runner.rows()), runner


DAY = """
[[events]]
at_s = 0.0
kind = "drive"
[[events]]
at_s = 90.0
kind = "park"
[[events]]
at_s = 150.0
kind = "charge"
current_c = 1.0
"""


def test_a_day_in_miniature() -> None:
    rows, runner = run(scenario(DAY))
    assert len(rows) == 241  # 0 .. 240 s, one per second
    assert list(rows[0]) == list(COLUMNS)
    states = [r["state"] for r in rows]
    assert states[45] == "NORMAL"
    assert states[120] == "STANDBY"
    assert states[200] == "CHARGE"
    assert min(r["current_a"] for r in rows[:90]) < -10  # driving draws current
    assert all(r["current_a"] == 0 for r in rows[100:150])  # parked: none
    assert rows[200]["current_a"] > 0  # charging
    assert max(r["soc_error_max_pct"] for r in rows[30:]) < 2.0  # the estimate follows
    # the sensor reads 0.5 % high and 50 mA off; the master learned the 50 mA with the
    # contactors open and removes them, the gain error stays
    assert runner.pack.master.current_zero.offset_a == pytest.approx(0.05, abs=0.005)
    assert abs(rows[-1]["current_measured_a"] - rows[-1]["current_a"] * 1.005) < 0.01
    text = "\n".join(t for _, t in runner.journal)
    assert "scenario: charge" in text
    assert "STANDBY -> PRECHARGE: VCU requests charge" in text
    assert runner.summary.faults_seen == []


def test_same_scenario_same_files_bit_for_bit(tmp_path: Path) -> None:
    s = scenario(DAY, duration_s=160.0)
    settings = load_settings(None, SMALL)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        execute(s, settings, tmp_path / name, plot=False)
    for name in ("timeseries.csv", "journal.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    header = next(csv.reader(io.StringIO((tmp_path / "a" / "timeseries.csv").read_text())))
    assert header == list(COLUMNS)


def test_an_injected_over_voltage_trips_and_is_reported() -> None:
    events = DAY + """
[[events]]
at_s = 60.0
kind = "inject_cell"
module = 0
cell = 2
quantity = "voltage"
value = 4350.0
duration_s = 5.0
"""
    rows, runner = run(scenario(events, duration_s=160.0))
    tripped = next(r for r in rows if r["state"] == "ERROR")
    assert 60 < tripped["time_s"] <= 62
    assert tripped["faults"].startswith("cell_overvoltage_msl@module 0 #2")
    assert rows[70]["state"] == "ERROR"  # until the VCU resets it
    assert rows[70]["charge_limit_a"] == 0
    assert rows[70]["discharge_limit_a"] == 0
    assert runner.summary.faults_seen[0] == "cell_overvoltage_msl@module 0 #2"


def test_ambient_and_balancing_events() -> None:
    events = """
[[events]]
at_s = 0.0
kind = "park"
[[events]]
at_s = 0.0
kind = "ambient"
degc = 40.0
[[events]]
at_s = 60.0
kind = "balancing"
enabled = false
"""
    rows, runner = run(scenario(events, duration_s=120.0), "sim.cells.initial_soc_spread_pct=5")
    assert runner.pack.afes[0].plant.ambient_degc == 40.0
    assert rows[-1]["temperature_max_degc"] > rows[0]["temperature_max_degc"]
    assert rows[30]["balancing_cells"] > 0  # 5 % apart at rest: the high cells bleed
    assert rows[-1]["balancing_cells"] == 0  # the VCU switched it off


PARKED_AFTER_A_DRIVE = """
[[events]]
at_s = 0.0
kind = "drive"
[[events]]
at_s = 60.0
kind = "park"
"""


def test_a_wrong_start_converges_at_rest_and_cell_columns() -> None:
    # under load the voltages correct nothing (estimation.voltage_correction_max_c): the
    # push holds through the drive, and the rest's OCV takes it back
    s = scenario(PARKED_AFTER_A_DRIVE, duration_s=700.0,
                 header="estimator_soc_offset_pct = 20.0")
    rows, runner = run(s, cells=True)
    assert "scenario: estimate offset by 20 %" in [t for _, t in runner.journal]
    assert rows[1]["soc_error_max_pct"] > 3  # still off a second after the push ...
    assert rows[59]["soc_error_max_pct"] > 3  # ... and through the drive ...
    assert rows[-1]["soc_error_max_pct"] < 2.0  # ... back within 2 points after the rest
    last = rows[-1]
    estimated = np.array([last[f"soc_est_m0_c{c}"] for c in range(4)])
    assert estimated.mean() == pytest.approx(last["soc_est_mean_pct"], abs=0.5)
