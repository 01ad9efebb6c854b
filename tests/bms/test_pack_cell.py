"""``pack.cell``: a cell file feeds the estimator, the limits and the plant."""

from __future__ import annotations

from pathlib import Path

import pytest

from bms.chemistry import pack_cell, series_cell
from bms.errors import ConfigError
from bms.settings import load_settings
from cells.model import load_cell
from cells.shipped import DATA, shipped
from master.diagnosis.limits import resolve_limits
from master.estimation.pack_estimator import PackEstimator


def test_the_reference_cells_ship_as_cell_files() -> None:
    assert {"lg-m50", "a123-26650"} <= set(shipped())
    for name in ("lg-m50", "a123-26650"):
        model = load_cell(DATA / f"{name}.toml")
        curve = model.ocv_curve()
        assert len(curve.soc) >= 40  # dense: within 0.5 mV of the fitted curve
        assert model.source.startswith("fitted by bms cell fit to PyBaMM")


def test_a_shipped_cell_by_name_feeds_the_estimator_and_the_limits() -> None:
    settings = load_settings(None, ["pack.cell=lg-m50"])
    model = load_cell(DATA / "lg-m50.toml")
    cell = series_cell(settings)
    assert cell.capacity_ah == pytest.approx(model.capacity_ah)
    assert cell.ocv.soc == model.ocv_curve().soc
    estimator = PackEstimator(settings)
    assert list(estimator.curve.voltage_v) == list(model.ocv_curve().ocv_v)
    assert estimator.health.capacity_ah[0] == pytest.approx(model.capacity_ah)
    limits = resolve_limits(settings)  # the maker's window is the recommended tier
    assert limits.cell_overvoltage_mv.recommended == pytest.approx(1000 * model.voltage_max_v)
    assert limits.cell_undervoltage_mv.recommended == pytest.approx(1000 * model.voltage_min_v)


def test_a_cell_window_keeps_deep_discharge_below_the_maximum_tier() -> None:
    limits = resolve_limits(load_settings(None, ["pack.chemistry=LFP", "pack.cell=a123-26650"]))
    assert limits.deep_discharge_mv < limits.cell_undervoltage_mv.maximum


def test_a_cell_of_another_chemistry_is_refused_with_the_fix() -> None:
    settings = load_settings(None, ["pack.cell=a123-26650"])  # pack.chemistry: NMC
    with pytest.raises(ConfigError, match=r'set pack\.chemistry = "LFP"'):
        pack_cell(settings)


def test_a_relative_cell_file_is_the_configurations_neighbour(tmp_path: Path) -> None:
    for name in ("lg-m50.toml", "lg-m50-ocv.csv", "lg-m50-circuit.csv"):
        (tmp_path / name).write_text((DATA / name).read_text())
    config = tmp_path / "pack.toml"
    config.write_text('[pack]\ncell = "lg-m50.toml"\n')
    settings = load_settings(config)
    assert settings.pack.cell == str(tmp_path / "lg-m50.toml")
    assert pack_cell(settings).capacity_ah == pytest.approx(load_cell(DATA / "lg-m50.toml")
                                                            .capacity_ah)


def test_an_unknown_cell_names_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match=r"one of .*lg-m50"):
        pack_cell(load_settings(None, ["pack.cell=no-such-cell"]))


def test_the_plant_takes_the_files_slow_pair_and_hysteresis(tmp_path: Path) -> None:
    model = load_cell(DATA / "a123-26650.toml")
    cell = pack_cell(load_settings(None, ["pack.chemistry=LFP", "pack.cell=a123-26650"]))
    r2_ohm, tau2_s = model.circuit_at(0.5).rc[1]
    assert cell.r2_ohm == pytest.approx(r2_ohm)
    assert cell.r2_ohm * cell.c2_f == pytest.approx(tau2_s)
    assert cell.hysteresis_v == 0.0  # the file has one (mean) branch
    # a file with charge and discharge branches: half their gap at 50 % is the hysteresis
    for name in ("a123-26650.toml", "a123-26650-circuit.csv"):
        (tmp_path / name).write_text((DATA / name).read_text())
    rows = (DATA / "a123-26650-ocv.csv").read_text().splitlines()
    header, body = rows[0], [r for r in rows[1:] if r]
    branch = header.split(",").index("branch")

    def shifted(row: str, name: str, dv: float) -> str:
        cols = row.split(",")
        cols[branch], cols[-1] = name, f"{float(cols[-1]) + dv:.5f}"
        return ",".join(cols)
    (tmp_path / "a123-26650-ocv.csv").write_text("\n".join(
        [header, *(shifted(r, "charge", 0.012) for r in body),
         *(shifted(r, "discharge", -0.008) for r in body)]) + "\n")
    branched = pack_cell(load_settings(None, ["pack.chemistry=LFP",
                                              f"pack.cell={tmp_path / 'a123-26650.toml'}"]))
    assert branched.hysteresis_v == pytest.approx(0.010, abs=1e-6)
    assert branched.ocv.voltage(0.5) == pytest.approx(cell.ocv.voltage(0.5) + 0.002, abs=1e-4)


def test_by_default_the_plant_is_richer_than_the_estimator() -> None:
    from sim.module_plant import ModulePlant

    for chemistry in ("NMC", "LFP"):
        settings = load_settings(None, [f"pack.chemistry={chemistry}"])
        rich = ModulePlant(settings.sim.cells, settings.pack.chemistry, 0, 4, 2)
        assert all(c.p.r2_ohm > 0 for c in rich.cells)
        assert all(c.p.hysteresis_v > 0 for c in rich.cells) == (chemistry == "LFP")
        same = load_settings(None, [f"pack.chemistry={chemistry}", "sim.cells.model=estimator"])
        plain = ModulePlant(same.sim.cells, same.pack.chemistry, 0, 4, 2)
        assert all(c.p.r2_ohm == 0 and c.p.hysteresis_v == 0 for c in plain.cells)
