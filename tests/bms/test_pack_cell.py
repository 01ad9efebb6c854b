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
