"""The cell file: written and read back, interpolated, and refused with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from cells.model import CellFileError, CellModel, CircuitPoint, OcvCurveData, load_cell, write_cell


def model(**changes: object) -> CellModel:
    base = dict(
        name="test cell", chemistry="nmc", capacity_ah=5.0,
        ocv=(OcvCurveData(25.0, "charge", (0.0, 0.5, 1.0), (3.0, 3.7, 4.2)),
             OcvCurveData(25.0, "discharge", (0.0, 0.5, 1.0), (2.9, 3.6, 4.1))),
        circuit=(CircuitPoint(10.0, 0.2, 0.040, ((0.02, 10.0), (0.03, 400.0))),
                 CircuitPoint(10.0, 0.8, 0.030, ((0.01, 20.0), (0.02, 300.0))),
                 CircuitPoint(40.0, 0.2, 0.020, ((0.01, 10.0), (0.01, 400.0))),
                 CircuitPoint(40.0, 0.8, 0.010, ((0.005, 20.0), (0.01, 300.0)))),
        voltage_max_v=4.2, voltage_min_v=2.5, source="a test",
        fit_rmse_mv={"hppc": 1.5}, pulse_resistance_1s_ohm={25.0: 0.026})
    base.update(changes)
    return CellModel(**base)  # type: ignore[arg-type]


def test_a_written_cell_reads_back_the_same(tmp_path: Path) -> None:
    written = write_cell(model(), tmp_path / "cell.toml")
    assert [p.name for p in written] == ["cell.toml", "cell-ocv.csv", "cell-circuit.csv"]
    assert load_cell(tmp_path / "cell.toml") == model()


def test_tables_interpolate_in_soc_and_temperature() -> None:
    cell = model()
    mean = cell.ocv_curve()  # no mean branch given: the mean of charge and discharge
    assert mean.voltage(0.25) == pytest.approx((3.35 + 3.25) / 2)
    point = cell.circuit_at(0.5, 25.0)  # halfway in SOC at both temperatures, then between
    assert point.r0_ohm == pytest.approx(((0.040 + 0.030) / 2 + (0.020 + 0.010) / 2) / 2)
    assert point.rc[1][1] == pytest.approx(350.0)
    assert cell.circuit_at(0.0, -20.0).r0_ohm == pytest.approx(0.040)  # ends held


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("format = 1", "format = 2"), "reads format 1"),
    (lambda t: t.replace('chemistry = "nmc"', 'chemistry = "lto"'), "one of nmc, lfp"),
    (lambda t: t.replace("capacity_ah = 5.0000", "capacity_ah = -1"), "positive"),
    (lambda t: "unknown = 1\n" + t, "unknown keys"),
    (lambda t: t.replace("voltage_min_v = 2.5", "voltage_min_v = 4.5"), "below"),
])
def test_a_bad_cell_file_says_what_is_wrong(tmp_path: Path, edit: object,
                                            message: str) -> None:
    write_cell(model(), tmp_path / "cell.toml")
    path = tmp_path / "cell.toml"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    with pytest.raises(CellFileError, match=message):
        load_cell(path)


def test_a_bad_table_names_its_line(tmp_path: Path) -> None:
    write_cell(model(), tmp_path / "cell.toml")
    ocv = tmp_path / "cell-ocv.csv"
    lines = ocv.read_text().splitlines()
    lines[2] = lines[2].replace("3.70000", "2.00000")  # falls as SOC rises
    ocv.write_text("\n".join(lines) + "\n")
    with pytest.raises(CellFileError, match="must not decrease"):
        load_cell(tmp_path / "cell.toml")
    lines[2] = lines[2].replace("2.00000", "abc")
    ocv.write_text("\n".join(lines) + "\n")
    with pytest.raises(CellFileError, match=r"cell-ocv.csv:3: ocv_v 'abc' is not a number"):
        load_cell(tmp_path / "cell.toml")


def with_pulses() -> CellModel:
    from cells.model import PulsePoint

    return model(pulses=tuple(
        PulsePoint(t, soc, sign * rate * 5.0, 10.0, round(r * falls, 6))
        for t, r in ((10.0, 0.06), (40.0, 0.03)) for soc in (0.2, 0.8)
        for rate, falls in ((0.2, 1.5), (1.0, 1.0), (3.0, 0.7)) for sign in (-1.0, 1.0)))


def test_a_power_tests_pulses_read_back_and_become_the_limits_map(tmp_path: Path) -> None:
    from bms.chemistry import Chemistry, cell_from_file

    written = write_cell(with_pulses(), tmp_path / "cell.toml")
    assert [p.name for p in written][-1] == "cell-pulses.csv"
    assert load_cell(tmp_path / "cell.toml") == with_pulses()
    pulses = cell_from_file(str(tmp_path / "cell.toml"), Chemistry.NMC).pulses
    assert pulses.seconds == 10.0
    assert pulses.temperatures_degc == (10.0, 40.0)
    cold = pulses.discharge[0]
    assert [c.c_rate for c in cold] == [0.2, 1.0, 3.0]
    assert cold[1].soc == (0.2, 0.8)
    assert cold[1].resistance_ohm_ah == pytest.approx((0.06 * 5.0, 0.06 * 5.0))


def test_a_power_test_with_one_direction_only_is_refused(tmp_path: Path) -> None:
    from bms.chemistry import Chemistry, cell_from_file
    from bms.errors import ConfigError

    one_way = model(pulses=tuple(q for q in with_pulses().pulses if q.current_a < 0))
    write_cell(one_way, tmp_path / "cell.toml")
    with pytest.raises(ConfigError, match="both directions"):
        cell_from_file(str(tmp_path / "cell.toml"), Chemistry.NMC)


def test_a_bad_pulse_row_names_its_line(tmp_path: Path) -> None:
    write_cell(with_pulses(), tmp_path / "cell.toml")
    table = tmp_path / "cell-pulses.csv"
    lines = table.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",-0.01"
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(CellFileError, match=r"cell-pulses.csv:4: a pulse needs"):
        load_cell(tmp_path / "cell.toml")
