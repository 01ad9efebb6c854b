"""`bms cell fit`: on data of a known circuit (consistency: the fit recovers what made the
data) and on PyBaMM DFN tests of the LG M50 (independent: a model we did not write)."""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from cells.fit import FitError, fit_cell, is_ocv_test, is_power_test, pulses_of, read_test
from cells.shipped import DATA

EXAMPLES = DATA / "examples"
OCV = ((0.0, 3.0), (0.2, 3.5), (0.5, 3.7), (0.8, 3.95), (1.0, 4.2))
R0, RC = 0.025, ((0.012, 20.0), (0.015, 400.0))
CAPACITY = 4.0


def circuit_voltage(currents: list[float], soc0: float) -> tuple[list[float], list[float]]:
    """Our own two-RC circuit at 1 s: the data the consistency test fits."""
    socs, volts, soc = [], [], soc0
    v_rc = [0.0, 0.0]
    for k, current in enumerate(currents):
        if k:
            for p, (r, tau) in enumerate(RC):
                decay = math.exp(-1.0 / tau)
                v_rc[p] = v_rc[p] * decay + r * (1 - decay) * currents[k - 1]
            soc += (currents[k - 1] + current) / 2 / 3600 / CAPACITY
        ocv = float(np.interp(soc, [s for s, _ in OCV], [v for _, v in OCV]))
        socs.append(soc)
        volts.append(ocv + R0 * current + sum(v_rc))
    return volts, socs


def write(path: Path, currents: list[float], soc0: float) -> None:
    volts, _ = circuit_voltage(currents, soc0)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["time_s", "current_a", "voltage_v"])
        for k, (i, v) in enumerate(zip(currents, volts, strict=True)):
            out.writerow([k, i, f"{v:.6f}"])


def ocv_test() -> list[float]:
    c20 = CAPACITY / 20
    return [0.0] * 600 + [-c20] * 72_000 + [0.0] * 3600 + [c20] * 72_000 + [0.0] * 600


def pulse_test() -> list[float]:
    currents = [0.0] * 600
    for _ in range(4):  # pulses at 80, 60, 40, 20 %
        currents += [-CAPACITY / 3] * 1080 * 2 + [0.0] * 3600  # 20 % at C/3, an hour
        currents += [-CAPACITY] * 10 + [0.0] * 40 + [0.75 * CAPACITY] * 10 + [0.0] * 40
    return currents


def test_the_fit_recovers_the_circuit_that_made_the_data(tmp_path: Path) -> None:
    write(tmp_path / "ocv.csv", ocv_test(), 1.0)
    write(tmp_path / "hppc.csv", pulse_test(), 1.0)
    tests = [read_test(tmp_path / "ocv.csv"), read_test(tmp_path / "hppc.csv")]
    assert [is_ocv_test(t) for t in tests] == [True, False]
    fit = fit_cell(tests, "known", "nmc")
    assert fit.model.capacity_ah == pytest.approx(CAPACITY, rel=0.002)
    assert len(fit.steps) == 4
    for step in fit.steps[1:]:  # the first starts from a rest the OCV test's end shaped
        assert step.rmse_v < 0.001
        assert step.r0_ohm == pytest.approx(R0, rel=0.05)
        # the two pairs trade resistance for time constant; their sum is what the data fix
        assert sum(r for r, _ in step.rc) == pytest.approx(sum(r for r, _ in RC), rel=0.1)


def nonlinear_voltage(currents: list[float], volts: list[float]) -> list[float]:
    """The circuit's voltage plus a charge-transfer overpotential that falls with the
    current per A (what a power test is for): asinh, zero at rest."""
    return [v + 0.05 * math.asinh(i / 2.0) - 0.025 * i for i, v in zip(currents, volts,
                                                                       strict=True)]


def power_test(cut_at_step: int = 2) -> list[float]:
    currents = [0.0] * 600
    for step in range(4):
        currents += [-CAPACITY / 3] * 1080 * 2 + [0.0] * 3600
        for c in (0.2, 1.0, 3.0):
            length = 4 if (step, c) == (cut_at_step, 3.0) else 10  # a cut-off ends one
            currents += [-c * CAPACITY] * length + [0.0] * 60 + [c * CAPACITY] * 10 + [0.0] * 60
    return currents


def test_a_power_tests_pulses_are_kept_as_measured(tmp_path: Path) -> None:
    currents = power_test()
    volts = nonlinear_voltage(currents, circuit_voltage(currents, 1.0)[0])
    with (tmp_path / "power.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["time_s", "current_a", "voltage_v"])
        for k, (i, v) in enumerate(zip(currents, volts, strict=True)):
            out.writerow([k, i, f"{v:.6f}"])
    write(tmp_path / "ocv.csv", ocv_test(), 1.0)
    write(tmp_path / "hppc.csv", pulse_test(), 1.0)
    tests = [read_test(tmp_path / n) for n in ("ocv.csv", "hppc.csv", "power.csv")]
    assert [is_power_test(t) for t in tests[1:]] == [False, True]
    pulses = pulses_of(tests[2], CAPACITY)
    assert len(pulses) == 4 * 6 - 1  # the cut one is left out
    assert {q.seconds for q in pulses} == {10}
    # from rest, over 10 s: R0, the RC pairs charging, the OCV moving and the overpotential
    for q in pulses:
        i = q.current_a
        expected = R0 + sum(r * (1 - math.exp(-9 / tau)) for r, tau in RC) + \
            (0.05 * math.asinh(i / 2.0) - 0.025 * i) / i
        assert q.resistance_ohm == pytest.approx(expected, rel=0.08, abs=0.0015), q
    by_rate = {round(abs(q.current_a) / CAPACITY, 1) for q in pulses}
    assert by_rate == {0.2, 1.0, 3.0}
    model = fit_cell(tests, "nonlinear", "nmc").model
    assert model.pulses == tuple(pulses_of(tests[2], model.capacity_ah))  # its SOC axis
    assert len(model.circuit) == 4  # the circuit comes from the HPPC test alone


def test_ocv_tests_at_several_temperatures_give_a_curve_each_on_one_soc_axis(
        tmp_path: Path) -> None:
    """A colder test reads 15 mV higher and reaches its cut-off at 10 % (an entropic cell):
    its curve sits on the 25 degC test's SOC axis, from full, and the estimator's OCV
    moves with the temperature by what the curves say."""
    from bms.chemistry import Chemistry, cell_from_file
    from cells.model import write_cell

    write(tmp_path / "ocv.csv", ocv_test(), 1.0)
    write(tmp_path / "hppc.csv", pulse_test(), 1.0)
    c20 = CAPACITY / 20
    cold = [0.0] * 600 + [-c20] * 64_800 + [0.0] * 3600 + [c20] * 64_800 + [0.0] * 600
    volts, _ = circuit_voltage(cold, 1.0)
    with (tmp_path / "ocv-10.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["time_s", "current_a", "voltage_v", "temperature_degc"])
        for k, (i, v) in enumerate(zip(cold, volts, strict=True)):
            out.writerow([k, i, f"{v + 0.015:.6f}", 10.0])
    tests = [read_test(tmp_path / n) for n in ("ocv.csv", "ocv-10.csv", "hppc.csv")]
    model = fit_cell(tests, "entropic", "nmc").model
    assert [c.temperature_degc for c in model.ocv] == [10.0, 25.0]
    curve_10, curve_25 = model.ocv
    assert curve_10.soc[0] == pytest.approx(0.10, abs=0.01)  # placed from full
    for soc in (0.3, 0.5, 0.8):
        assert curve_10.voltage(soc) - curve_25.voltage(soc) == pytest.approx(0.015, abs=0.002)
    write_cell(model, tmp_path / "entropic.toml")
    cell = cell_from_file(str(tmp_path / "entropic.toml"), Chemistry.NMC)
    from master.estimation.ocv_curve import OcvCurve

    shifted = OcvCurve(cell.ocv, cell.ocv_shift)
    middle, below = shifted.shift_v(np.array([0.5, 0.05]), np.array([10.0, 10.0]))
    assert middle == pytest.approx(0.015, abs=0.002)
    assert below == pytest.approx(0.015, abs=0.004)  # below 10 %: the shift at its end


def dfn_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def test_on_dfn_tests_the_fit_holds_against_the_models_own_state() -> None:
    ocv_path, hppc_path = EXAMPLES / "lg-m50-ocv.csv.gz", EXAMPLES / "lg-m50-hppc.csv.gz"
    fit = fit_cell([read_test(ocv_path), read_test(hppc_path)], "lg-m50", "nmc")
    # capacity: the DFN's SOC moved over the charge of the C/20 discharge
    rows = dfn_rows(ocv_path)
    soc = np.array([float(r["soc_true"]) for r in rows])
    assert fit.model.capacity_ah / 5.0 == pytest.approx(1.0, abs=0.03)  # LG M50: 5 Ah
    assert soc.max() - soc.min() > 0.95
    # OCV: at the end of every hour's rest of the pulse test the DFN cell is near equilibrium
    rows = dfn_rows(hppc_path)
    current = np.array([float(r["current_a"]) for r in rows])
    voltage = np.array([float(r["voltage_v"]) for r in rows])
    truth = np.array([float(r["soc_true"]) for r in rows])
    rest_ends = [k for k in range(3600, len(current) - 1)
                 if current[k] == 0 and current[k + 1] < -1.0 and
                 np.all(current[k - 3000:k] == 0) and 0.1 < truth[k] < 0.95]
    assert len(rest_ends) >= 8
    curve = fit.model.ocv_curve()
    errors_mv = [1000 * (curve.voltage(float(truth[k])) - voltage[k]) for k in rest_ends]
    assert max(abs(e) for e in errors_mv) < 6.0, errors_mv
    middle = [s for s in fit.steps if 0.2 < s.soc < 0.85]
    assert middle
    for step in middle:
        assert step.rmse_v < 0.003
        assert step.r0_ohm == pytest.approx(step.pulse_resistance_ohm, rel=0.15)


def test_a_test_without_our_columns_says_how_to_map_them(tmp_path: Path) -> None:
    path = tmp_path / "cycler.csv"
    path.write_text("Test_Time,Current,Voltage\n0,0,3.7\n1,-1,3.6\n")
    with pytest.raises(FitError, match="--columns"):
        read_test(path)
    mapped = read_test(path, {"time_s": "Test_Time", "current_a": "Current",
                              "voltage_v": "Voltage"})
    assert list(mapped.voltage_v) == [3.7, 3.6]
    path.write_text("time_s,current_a,voltage_v\n0,0,3.7\n0,-1,3.6\n")
    with pytest.raises(FitError, match="must increase"):
        read_test(path)


def test_without_an_ocv_test_the_fit_says_so(tmp_path: Path) -> None:
    write(tmp_path / "hppc.csv", pulse_test(), 1.0)
    with pytest.raises(FitError, match="no OCV test"):
        fit_cell([read_test(tmp_path / "hppc.csv")], "x", "nmc")


def test_on_the_dfn_power_test_the_resistance_falls_with_the_current() -> None:
    """The LG M50 example's power test (PyBaMM DFN at 25 degC): every step's pulses found,
    and the cell's 10 s resistance at 6 C well below its resistance at C/5, which a linear
    circuit cannot say (the charge-transfer overpotential)."""
    test = read_test(EXAMPLES / "lg-m50-power.csv.gz")
    assert is_power_test(test)
    pulses = pulses_of(test, 5.0)
    assert len(pulses) >= 90
    middle = [q for q in pulses if abs(q.soc - 0.5) < 0.05]
    small = min((q for q in middle if q.current_a < 0), key=lambda q: abs(q.current_a))
    large = max((q for q in middle if q.current_a < 0), key=lambda q: abs(q.current_a))
    assert large.current_a == pytest.approx(-30.0)
    assert large.resistance_ohm < 0.7 * small.resistance_ohm
