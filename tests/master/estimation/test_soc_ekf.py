"""The per-cell EKF against the equivalent-circuit plant: it converges from a wrong start
with noisy voltages and a biased current sensor, and its covariance stays sane."""

import random

import numpy as np
import pytest

from bms.chemistry import REFERENCE_CELLS
from bms.settings import Chemistry
from master.estimation.ocv_curve import OcvCurve
from master.estimation.pack_estimator import resistance_factor
from master.estimation.soc_ekf import SocFilter
from sim.cell import CellModel, CellParameters

NMC = REFERENCE_CELLS[Chemistry.NMC]
DT_S = 0.1


def plant_cells(count: int, rng: random.Random) -> list[CellModel]:
    cells = []
    for _ in range(count):
        parameters = CellParameters(NMC.capacity_ah * rng.uniform(0.95, 1.05), NMC.r0_ohm,
                                    NMC.r1_ohm, NMC.c1_f, 70.0, 0.1, 1.0, 0.0, NMC.ocv)
        cells.append(CellModel(parameters, rng.uniform(0.4, 0.8), 25.0))
    return cells


def make_filter(count: int) -> SocFilter:
    return SocFilter(OcvCurve(NMC.ocv), np.full(count, NMC.capacity_ah),
                     np.full(count, NMC.r0_ohm), NMC.r1_ohm / NMC.r0_ohm, NMC.c1_f,
                     voltage_sigma_v=0.005, current_sigma_a=0.5, soc_drift_per_s=3e-4)


def drive(step: int) -> float:
    """A repeating cycle: 1 C, 3 C, rest, 0.6 C regeneration (A, positive charges)."""
    phase = (step * DT_S) % 90
    return -5.0 if phase < 30 else -15.0 if phase < 40 else 0.0 if phase < 60 else 3.0


def test_converges_from_a_20_point_error_with_realistic_sensor_errors() -> None:
    rng = random.Random(4)
    cells = plant_cells(8, rng)
    ekf = make_filter(8)
    truth = np.array([c.soc for c in cells])
    ekf.start(truth + 0.20, soc_sigma=0.10)  # 20 points too high
    errors = [float(np.abs(ekf.soc - truth).max())]
    for step in range(int(900 / DT_S)):  # 15 minutes of driving
        current = drive(step)
        for cell in cells:
            cell.step(DT_S, current, 25.0)
        measured = current * 1.005 + 0.05  # gain error 0.5 %, offset 50 mA
        # the cells warm up: the master knows it from the temperature sensors
        factor = resistance_factor(np.array([c.temperature_degc for c in cells]))
        voltages = np.array([c.terminal_voltage_v(current) + rng.gauss(0, 0.002)
                             for c in cells])
        ekf.predict(DT_S, np.full(8, measured), factor)
        ekf.correct(voltages, np.full(8, measured), factor)
        errors.append(np.abs(ekf.soc - np.array([c.soc for c in cells])).max())
    after_10_min = errors[int(600 / DT_S):]
    assert max(after_10_min) < 0.02
    assert errors[0] == pytest.approx(0.20)  # it really started wrong
    assert np.all(ekf.p_soc > 0)
    assert np.all(np.linalg.eigvalsh(ekf.p) > -1e-15)  # covariances stay positive


def test_a_missing_voltage_leaves_that_cell_to_prediction() -> None:
    ekf = make_filter(2)
    ekf.start(np.array([0.5, 0.5]), soc_sigma=0.05)
    before = ekf.soc.copy()
    ekf.correct(np.array([np.nan, 3.9]), np.zeros(2), np.ones(2))
    assert ekf.soc[0] == before[0]
    assert ekf.soc[1] > before[1]  # 3.9 V is above the OCV at 50 %


def test_prediction_is_coulomb_counting() -> None:
    ekf = make_filter(1)
    ekf.start(np.array([0.5]), soc_sigma=0.01)
    ekf.predict(3600.0, np.array([-NMC.capacity_ah / 2]), np.ones(1))  # C/2 for an hour
    assert ekf.soc[0] == pytest.approx(0.0)
    assert ekf.soc_sigma()[0] > 0.01  # uncertainty grows without measurements
