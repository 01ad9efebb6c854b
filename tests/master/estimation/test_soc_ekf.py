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
    assert np.all(np.linalg.eigvalsh(ekf.covariance()) > -1e-15)  # covariances stay positive


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


def test_the_stored_triangle_follows_the_textbook_matrix_filter() -> None:
    """Predict and correct on the six stored elements give what the full 3 x 3 matrix
    equations give (F P F' + Q; P - K H P, K = P H' / (H P H' + R)), a cell without a reading
    included."""
    rng = np.random.default_rng(7)
    cells = 6
    ekf = make_filter(cells)
    ekf.start(rng.uniform(0.2, 0.9, cells), soc_sigma=0.05)
    full = ekf.covariance()
    soc, v_rc, dr0 = ekf.soc.copy(), ekf.v_rc_v.copy(), ekf.dr0_ohm.copy()
    for _ in range(20):
        current = rng.uniform(-20.0, 10.0, cells)
        factor = rng.uniform(0.8, 1.5, cells)
        r1 = (ekf.r0_ohm + dr0) * ekf.r1_per_r0 * factor
        decay = np.exp(-DT_S / (r1 * ekf.c1_f))
        scale = DT_S / (ekf.capacity_ah * 3600.0)
        f = np.zeros((cells, 3, 3))
        f[:, 0, 0] = f[:, 2, 2] = 1.0
        f[:, 1, 1] = decay
        q = np.zeros((cells, 3, 3))
        q[:, 0, 0] = (ekf.current_sigma_a * scale) ** 2 + ekf.soc_drift_per_s ** 2 * DT_S
        q[:, 1, 1] = (ekf.current_sigma_a * r1 * (1.0 - decay)) ** 2
        q[:, 2, 2] = (0.02 * ekf.r0_ohm) ** 2 * DT_S / 3600.0
        full = f @ full @ f.transpose(0, 2, 1) + q
        soc = soc + current * scale
        v_rc = v_rc * decay + r1 * (1.0 - decay) * current
        ekf.predict(DT_S, current, factor)
        np.testing.assert_allclose(ekf.covariance(), full, rtol=1e-12, atol=1e-18)

        measured = ekf.model_voltage_v(current, factor) + rng.normal(0.0, 0.01, cells)
        measured[rng.integers(cells)] = np.nan
        h = np.stack([ekf.curve.slope(soc), np.ones(cells), current * factor], axis=1)
        model = ekf.curve.voltage(soc) + (ekf.r0_ohm + dr0) * factor * current + v_rc
        innovation = np.nan_to_num(measured - model)
        ph = full @ h[:, :, None]
        gain = ph[:, :, 0] / (h[:, None, :] @ ph + ekf.voltage_variance)[:, 0]
        gain[np.isnan(measured)] = 0.0
        full = full - gain[:, :, None] @ (h[:, None, :] @ full)
        soc, v_rc, dr0 = (soc + gain[:, 0] * innovation, v_rc + gain[:, 1] * innovation,
                          dr0 + gain[:, 2] * innovation)
        ekf.correct(measured, current, factor)
        np.testing.assert_allclose(ekf.covariance(), full, rtol=1e-9, atol=1e-18)
        np.testing.assert_allclose(np.stack([ekf.soc, ekf.v_rc_v, ekf.dr0_ohm]),
                                   np.stack([soc, v_rc, dr0]), rtol=1e-12, atol=1e-15)
    assert np.all(ekf.covariance()[:, 0, 0] < 0.05 ** 2)  # the readings did inform it


def biased_filter(**options: float) -> SocFilter:
    cell = REFERENCE_CELLS[Chemistry.NMC]
    f = SocFilter(OcvCurve(cell.ocv), np.array([cell.capacity_ah]), np.array([cell.r0_ohm]),
                  cell.r1_ohm / cell.r0_ohm, cell.c1_f, 0.005, 0.5, 1e-5, **options)
    f.start(np.array([0.5]), 0.05)
    return f


def correct_biased(f: SocFilter, current_a: float, bias_v: float, times: int = 60) -> None:
    """Corrections with a voltage ``bias_v`` off the model: the polarisation a model that is
    not the cell's misses."""
    factor = np.ones(1)
    for _ in range(times):
        f.predict(1.0, np.array([current_a]), factor)
        model = f.model_voltage_v(np.array([current_a]), factor)
        f.correct(model + bias_v, np.array([current_a]), factor)


def test_above_the_correction_load_a_biased_voltage_moves_no_soc() -> None:
    gated = biased_filter(correction_max_load_a=0.1)
    correct_biased(gated, -5.0, -0.03)  # 1 C, 30 mV below the model
    counted = 0.5 + (-5.0 * 60 / 3600 / 5.0)  # coulomb counting alone
    assert gated.soc[0] == pytest.approx(counted, abs=1e-9)
    free = biased_filter()  # the previous filter: the bias drags the SOC down
    correct_biased(free, -5.0, -0.03)
    assert counted - free.soc[0] > 0.01


def test_a_grown_voltage_sigma_under_load_weighs_a_correction_less() -> None:
    light, heavy = biased_filter(load_sigma_fraction=0.0), biased_filter(load_sigma_fraction=2.0)
    for f in (light, heavy):
        correct_biased(f, -5.0, -0.03, times=10)
    expected = 0.5 + (-5.0 * 10 / 3600 / 5.0)
    assert expected - heavy.soc[0] < (expected - light.soc[0]) / 3


def test_near_zero_current_holds_the_resistance_correction() -> None:
    held = biased_filter(dr0_min_current_a=1.0)
    correct_biased(held, 0.1, 0.01)  # relaxation at a trickle: no news of the resistance
    assert held.dr0_ohm[0] == 0.0
    free = biased_filter()
    correct_biased(free, 0.1, 0.01)
    assert abs(free.dr0_ohm[0]) > 1e-4


def test_the_published_sigma_holds_an_ocv_table_offset_the_covariance_cannot() -> None:
    """A cell whose OCV sits 8 mV below the table (a fitted table against a rested cell, 0.8
    points along its SOC axis here): at rest the corrections converge on the table's SOC,
    the covariance shrinks as if every reading were independent, and the truth leaves its
    3-sigma band. The consider term (``ocv_soc_sigma``: 0.3 points) keeps it inside, without
    moving the estimate."""
    soc_true, offset_v = 0.3, -0.008
    curve = OcvCurve(NMC.ocv)
    measured = curve.voltage(np.array([soc_true])) + offset_v

    def rested(ocv_soc_sigma: float) -> SocFilter:
        ekf = SocFilter(curve, np.full(1, NMC.capacity_ah), np.full(1, NMC.r0_ohm),
                        NMC.r1_ohm / NMC.r0_ohm, NMC.c1_f, voltage_sigma_v=0.005,
                        current_sigma_a=0.5, soc_drift_per_s=3e-4,
                        ocv_soc_sigma=ocv_soc_sigma)
        ekf.start(curve.soc_at(measured), 0.01, from_ocv=True)  # a rest reset
        for _ in range(3600):  # an hour at rest, corrected every second
            ekf.predict(1.0, np.zeros(1), np.ones(1))
            ekf.correct(measured, np.zeros(1), np.ones(1))
        return ekf

    plain, honest = rested(0.0), rested(0.003)
    error = abs(float(honest.soc[0]) - soc_true)
    assert error > 0.005  # the offset really moved the estimate
    assert float(plain.soc[0]) == float(honest.soc[0])  # the consider term changes no estimate
    assert error > 3 * float(plain.soc_sigma()[0])  # the covariance alone is too sure
    assert error <= 3 * float(honest.soc_sigma()[0])
    # the carried sensitivity is what the offset did to the estimate: the whole SOC offset
    slope = float(curve.slope(honest.soc)[0])  # where the corrections were made
    assert float(honest.offset_soc[0]) * -offset_v / slope == pytest.approx(error, rel=0.1)
    # counted from a stored SOC the offset is not the table's: no consider term
    stored = rested(0.003)
    stored.start(np.array([0.5]), 0.05)
    assert float(stored.soc_sigma()[0]) == pytest.approx(0.05)


def test_on_a_flat_curve_the_offset_costs_little_sigma() -> None:
    """On the LFP plateau a table offset along the SOC axis is next to nothing in volts: the
    voltages there barely correct, and the consider term stays what the last reset left."""
    from bms.chemistry import LFP_OCV

    curve = OcvCurve(LFP_OCV)
    lfp = REFERENCE_CELLS[Chemistry.LFP]
    ekf = SocFilter(curve, np.full(1, lfp.capacity_ah), np.full(1, lfp.r0_ohm),
                    lfp.r1_ohm / lfp.r0_ohm, lfp.c1_f, voltage_sigma_v=0.005,
                    current_sigma_a=0.5, soc_drift_per_s=3e-4, ocv_soc_sigma=0.003)
    ekf.start(np.array([0.6]), 0.01, from_ocv=True)
    for _ in range(3600):
        ekf.predict(1.0, np.zeros(1), np.ones(1))
        ekf.correct(curve.voltage(np.array([0.6])), np.zeros(1), np.ones(1))
    assert float(ekf.offset_soc[0]) == pytest.approx(1.0, abs=0.05)


def test_a_reading_beyond_the_tables_top_corrects_nothing() -> None:
    """A cell rested after a full charge may read above the table's 100 % (a fitted table's
    ends are its least sure points); the table's straight extension would take the SOC past
    100 %. Inside the table the same filter corrects."""
    curve = OcvCurve(NMC.ocv)
    top_v = NMC.ocv.voltage_v[-1]

    def corrected(measured_v: float) -> float:
        ekf = make_filter(1)
        ekf.start(np.array([0.99]), soc_sigma=0.05)
        ekf.correct(np.array([measured_v]), np.zeros(1), np.ones(1))
        return float(ekf.soc[0])

    assert corrected(top_v + 0.01) == 0.99
    inside = float(curve.voltage(np.array([0.995]))[0])
    assert corrected(inside) > 0.99
