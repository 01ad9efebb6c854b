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
    for name in ("lg-m50.toml", "lg-m50-ocv.csv", "lg-m50-circuit.csv", "lg-m50-pulses.csv"):
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
    for name in ("a123-26650.toml", "a123-26650-circuit.csv", "a123-26650-pulses.csv"):
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


def test_the_files_r0_over_temperature_sets_every_resistance_factor() -> None:
    """R0 at 50 % SOC at each tested temperature is the law: the estimator, the limits and
    the plant read the file's values at those temperatures, not Arrhenius at 20 kJ/mol."""
    import numpy as np

    from bms.chemistry import arrhenius_factor
    from master.estimation.pack_estimator import resistance_factor
    from sim.module_plant import ModulePlant

    model = load_cell(DATA / "lg-m50.toml")
    settings = load_settings(None, ["pack.cell=lg-m50"])
    law = series_cell(settings).r0_temperature
    r0_25 = model.circuit_at(0.5, 25.0).r0_ohm
    for t in (10.0, 40.0):
        measured = model.circuit_at(0.5, t).r0_ohm / r0_25
        assert law.factor(t) == pytest.approx(measured, rel=1e-9)
        assert abs(measured / arrhenius_factor(t) - 1) > 0.04  # so the test tells them apart
        estimator = PackEstimator(settings)
        vector = resistance_factor(np.array([t, t]), estimator.r0_temperature)
        assert vector == pytest.approx([measured, measured], rel=1e-9)
    plant = ModulePlant(settings.sim.cells, settings.pack.chemistry, 0, 2, 1,
                        cell=pack_cell(settings))
    assert plant.cells[0].p.r0_temperature == law
    # beyond the tested range the end segment's law goes on: monotonic, no jump
    cold = [law.factor(t) for t in (-20.0, -10.0, 0.0, 9.99, 10.0)]
    assert cold == sorted(cold, reverse=True)
    assert law.factor(9.999) == pytest.approx(law.factor(10.0), rel=1e-4)
    # without a file: Arrhenius exactly (the built-in cells' plant is unchanged)
    builtin = series_cell(load_settings(None, []))
    assert builtin.r0_temperature.factor(3.0) == arrhenius_factor(3.0)
    assert resistance_factor(np.array([3.0]))[0] == pytest.approx(arrhenius_factor(3.0))


def test_resistance_points_are_checked() -> None:
    from bms.chemistry import ResistanceTemperature

    assert ResistanceTemperature.from_points(((25.0, 1.0),)) == ResistanceTemperature()
    with pytest.raises(ValueError, match="positive factors"):
        ResistanceTemperature.from_points(((10.0, 1.4), (25.0, 0.0)))
    with pytest.raises(ValueError, match="distinct"):
        ResistanceTemperature.from_points(((25.0, 1.0), (25.0, 1.1)))


def test_the_plant_reads_the_files_ocv_at_its_temperature(tmp_path: Path) -> None:
    """A cell file with OCV curves at 10, 25 and 40 degC: the plant's OCV at 10 degC is the
    10 degC curve's; the built-in cell's does not move."""
    from bms.chemistry import REFERENCE_CELLS, Chemistry
    from sim.module_plant import ModulePlant

    for name in ("lg-m50.toml", "lg-m50-circuit.csv", "lg-m50-pulses.csv"):
        (tmp_path / name).write_text((DATA / name).read_text())
    rows = [r for r in (DATA / "lg-m50-ocv.csv").read_text().splitlines() if r]
    assert rows[0] == "temperature_degc,branch,soc,ocv_v"
    mine = [r.split(",") for r in rows[1:] if float(r.split(",")[0]) == 25.0]
    body = [f"{t:g},{branch},{soc},{float(v) + dv:.5f}"
            for t, dv in ((10.0, 0.012), (25.0, 0.0), (40.0, -0.006)) for _, branch, soc, v in mine]
    (tmp_path / "lg-m50-ocv.csv").write_text("\n".join([rows[0], *body]) + "\n")
    cold = load_settings(None, [f"pack.cell={tmp_path / 'lg-m50.toml'}",
                                "sim.cells.ambient_degc=10"])
    cell = pack_cell(cold)
    plant = ModulePlant(cold.sim.cells, cold.pack.chemistry, 0, 1, 1, cell=cell)
    c = plant.cells[0]
    assert c.ocv_v() == pytest.approx(cell.ocv.voltage(c.soc) + 0.012, abs=1e-4)
    builtin = ModulePlant(cold.sim.cells, cold.pack.chemistry, 0, 1, 1,
                          cell=REFERENCE_CELLS[Chemistry.NMC])
    b = builtin.cells[0]
    assert b.ocv_v() == REFERENCE_CELLS[Chemistry.NMC].ocv.voltage(b.soc)

