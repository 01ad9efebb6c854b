"""The equivalent-circuit cell obeys the physics it claims."""

import math

import pytest

from bms.chemistry import NMC_OCV, arrhenius_factor
from sim.cell import CellModel, CellParameters


def params(**changes: float) -> CellParameters:
    values = dict(capacity_ah=5.0, r0_ohm=0.023, r1_ohm=0.0125, c1_f=1900.0,
                  thermal_capacity_j_per_k=70.0, thermal_conductance_w_per_k=0.1,
                  coulombic_efficiency=1.0, self_discharge_per_s=0.0)
    values.update(changes)
    return CellParameters(ocv=NMC_OCV, **values)  # type: ignore[arg-type]


def test_one_amp_hour_moves_soc_by_one_fifth() -> None:
    cell = CellModel(params(), soc=0.5, temperature_degc=25.0)
    for _ in range(3600):
        cell.step(1.0, -1.0, 25.0)
    assert cell.soc == pytest.approx(0.3, abs=1e-9)


def test_coulombic_efficiency_applies_to_charge_only() -> None:
    cell = CellModel(params(coulombic_efficiency=0.9), soc=0.5, temperature_degc=25.0)
    cell.step(3600.0, 5.0, 25.0)
    assert cell.soc == pytest.approx(1.10)  # 0.5 + 0.9 x 5 Ah / 5 Ah, held at the ceiling
    drained = CellModel(params(coulombic_efficiency=0.9), soc=0.5, temperature_degc=25.0)
    drained.step(360.0, -5.0, 25.0)
    assert drained.soc == pytest.approx(0.4)


def test_terminal_voltage_has_ohmic_and_rc_parts() -> None:
    cell = CellModel(params(), soc=0.5, temperature_degc=25.0)
    ocv = NMC_OCV.voltage(0.5)
    assert cell.terminal_voltage_v(-10.0) == pytest.approx(ocv - 0.23)
    cell.step(24.0, -10.0, 25.0)  # one time constant: RC voltage at 1 - 1/e of -I*R1
    assert cell.v_rc_v == pytest.approx(-10.0 * 0.0125 * (1 - math.exp(-24.0 / 23.75)))


def test_rc_voltage_relaxes_at_rest() -> None:
    # a huge thermal mass keeps the cell at 25 degC, so the time constant stays R1 C1
    cell = CellModel(params(thermal_capacity_j_per_k=1e12), soc=0.5, temperature_degc=25.0)
    cell.step(100.0, -10.0, 25.0)
    loaded = cell.v_rc_v
    cell.step(23.75, 0.0, 25.0)
    assert cell.v_rc_v == pytest.approx(loaded / math.e)


def test_resistance_rises_in_the_cold() -> None:
    assert arrhenius_factor(25.0) == pytest.approx(1.0)
    assert arrhenius_factor(0.0) > 1.9  # about x2 at 0 degC for 20 kJ/mol
    assert arrhenius_factor(45.0) < 1.0


def test_current_heats_and_ambient_cools() -> None:
    cell = CellModel(params(), soc=0.5, temperature_degc=25.0)
    for _ in range(60):
        cell.step(1.0, -20.0, 25.0)
    assert cell.temperature_degc > 25.5
    hot = cell.temperature_degc
    for _ in range(600):
        cell.step(1.0, 0.0, 25.0)
    assert 25.0 < cell.temperature_degc < hot


def test_self_discharge() -> None:
    rate = CellParameters.self_discharge_rate(3.0)
    cell = CellModel(params(self_discharge_per_s=rate), soc=0.5, temperature_degc=25.0)
    cell.step(30 * 24 * 3600.0, 0.0, 25.0)
    assert cell.soc == pytest.approx(0.47)


def test_the_slow_pair_relaxes_with_its_own_time_constant() -> None:
    # R2 C2 = 300 s beside R1 C1 = 23.75 s: after the fast pair has gone, the slow one stays
    cell = CellModel(params(thermal_capacity_j_per_k=1e12, r2_ohm=0.01, c2_f=30_000.0),
                     soc=0.5, temperature_degc=25.0)
    cell.step(600.0, -10.0, 25.0)
    loaded = cell.v_rc2_v
    assert loaded == pytest.approx(-10.0 * 0.01 * (1 - math.exp(-2.0)))
    cell.step(300.0, 0.0, 25.0)
    assert cell.v_rc2_v == pytest.approx(loaded / math.e)
    assert abs(cell.v_rc_v) < 1e-6
    ocv = cell.ocv_v()
    assert cell.terminal_voltage_v(0.0) == pytest.approx(ocv + cell.v_rc2_v)


def test_hysteresis_follows_the_direction_of_the_charge() -> None:
    cell = CellModel(params(hysteresis_v=0.010), soc=0.5, temperature_degc=25.0)
    at_rest = cell.terminal_voltage_v(0.0)
    cell.step(10.0, 0.0, 25.0)
    assert cell.terminal_voltage_v(0.0) == pytest.approx(at_rest)  # no charge, no move
    for _ in range(600):  # 5 A for 10 min: 1/6 of the capacity, 5 e-folds
        cell.step(1.0, 5.0, 25.0)
    assert cell.hysteresis == pytest.approx(1.0, abs=0.01)
    charged = cell.ocv_v()
    for _ in range(3600):
        cell.step(1.0, 0.0, 25.0)
    assert cell.terminal_voltage_v(0.0) - charged == pytest.approx(0.010, abs=1e-4)
    for _ in range(12):  # 0.1 Ah back: 2 % of the capacity, 1 - exp(-0.6) of the way down
        cell.step(1.0, -30.0, 25.0)
    assert cell.hysteresis == pytest.approx(-1.0 + 2.0 * math.exp(-30.0 * 0.02), abs=0.02)


def test_without_the_slow_pair_and_hysteresis_the_cell_is_the_one_rc_model() -> None:
    plain, rich = (CellModel(params(**extra), soc=0.5, temperature_degc=25.0)
                   for extra in ({}, {"r2_ohm": 0.0, "c2_f": 0.0, "hysteresis_v": 0.0}))
    for cell in (plain, rich):
        cell.step(100.0, -10.0, 25.0)
    assert rich.terminal_voltage_v(-10.0) == plain.terminal_voltage_v(-10.0)
    assert rich.temperature_degc == plain.temperature_degc
