"""Identification of a cell model from tests: `bms cell fit TEST.csv ... -o cell.toml`.

From a low-rate OCV test (a C/20 discharge from full to the lower cut-off and a C/20 charge
back, rests between) the fit takes the capacity (the Ah of the discharge) and the OCV over
SOC: the mean of the two branches, which cancels their polarisation, resampled so that
linear interpolation stays within ``OCV_TOLERANCE_V`` of the measured curve.

From a pulse test (HPPC: a partial discharge, a long rest, a discharge pulse and a charge
pulse with rests, at SOC steps) it takes, per step, R0 and one or two RC pairs by least
squares over the whole step (the long rest holds the slow time constant, the pulses the
fast one): V = OCV(SOC) + R0 I + sum of v_k, dv_k/dt = (R_k I - v_k) / tau_k, SOC from the
charge counted since the rested start, each step starting from the previous one's RC
voltages. It prints the voltage RMSE per step and plots the fit.

From a power-capability test (pulses of several amplitudes at each SOC step, `bms cell
simulate power`) it keeps every full-length pulse as measured: the voltage it moved over
its length, per A (`cells.model.PulsePoint`), which the resistance power limit reads where
a cell file has them.

Tests are told apart by their currents: one that discharges for five hours or more without
a break is an OCV test, one whose discharge pulses have three amplitudes or more a power
test, any other a pulse test. Columns (docs/cells.md): ``time_s``,
``current_a`` (positive charges), ``voltage_v``, optionally ``temperature_degc``; a
cycler's export with other names is mapped with ``--columns``.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cells.model import CellModel, CircuitPoint, OcvCurveData, PulsePoint

Array = Any  # numpy arrays (float64)
OCV_TOLERANCE_V = 0.0005  # the resampled OCV stays within this of the measured mean
OCV_RUN_S = 5 * 3600.0  # a discharge this long without a break: an OCV test
MIN_STEP_S = 600.0  # a pulse-test step is at least this long (its rest included)
TAU_BOUNDS_S = ((0.5, 120.0), (120.0, 7200.0))  # the fast and the slow RC pair
REST_A = 1e-3
PULSE_S = (5.0, 60.0)  # a power test's pulse lasts this long ...
PULSE_REST_S = 30.0  # ... after a rest of at least this
PULSE_STEADY = 0.02  # and its current stays within this fraction of its median
POWER_AMPLITUDES = 3  # discharge pulses of this many amplitudes: a power test


class FitError(ValueError):
    """Tests that cannot be fitted, and why."""


@dataclass(frozen=True)
class Test:
    path: Path
    time_s: Array
    current_a: Array
    voltage_v: Array
    temperature_degc: float  # the test's median

    @property
    def charge_ah(self) -> Array:
        """Charge put in since the start (trapezoids), Ah."""
        dt = np.diff(self.time_s)
        mean = (self.current_a[1:] + self.current_a[:-1]) / 2
        return np.concatenate(([0.0], np.cumsum(mean * dt))) / 3600.0


def read_test(path: Path, columns: Mapping[str, str] | None = None) -> Test:
    """A test from CSV (``.csv.gz`` too): our columns, or a cycler's mapped by ``columns``
    (ours -> theirs)."""
    names = {c: c for c in ("time_s", "current_a", "voltage_v", "temperature_degc")}
    names.update(columns or {})
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise FitError(f"{path}: {exc}") from exc
    if not rows:
        raise FitError(f"{path}: no rows")
    missing = [names[c] for c in ("time_s", "current_a", "voltage_v") if names[c] not in rows[0]]
    if missing:
        raise FitError(f"{path}: lacks the columns {missing} (has {list(rows[0])}); map a "
                       "cycler's names with --columns time_s=Time,current_a=Current,...")

    def column(name: str) -> Array:
        try:
            return np.array([float(r[names[name]]) for r in rows])
        except ValueError as exc:
            raise FitError(f"{path}: {names[name]}: {exc}") from exc
    time_s = column("time_s")
    if np.any(np.diff(time_s) <= 0):
        raise FitError(f"{path}: time_s must increase row by row")
    temperature = float(np.median(column("temperature_degc"))) \
        if names["temperature_degc"] in rows[0] else 25.0
    return Test(path, time_s, column("current_a"), column("voltage_v"), temperature)


# --- OCV and capacity -----------------------------------------------------------------------


@dataclass(frozen=True)
class OcvFit:
    capacity_ah: float
    curve: OcvCurveData
    half_gap_v: float  # the largest half-difference of the two branches: polarisation and
    # hysteresis at the test's rate


def fit_ocv(test: Test, capacity_ah: float | None = None) -> OcvFit:
    """Capacity and OCV from a C/20-like discharge and charge. ``capacity_ah``: the SOC axis
    is another test's (the reference temperature's), this test's curve is placed on it from
    full: a colder cell reaches its cut-off before 0 %, and its curve then starts above 0."""
    current, voltage, charge = test.current_a, test.voltage_v, test.charge_ah
    discharging, charging = current < -REST_A, current > REST_A
    if not discharging.any() or not charging.any():
        raise FitError(f"{test.path}: an OCV test needs a discharge and a charge")
    d = _longest_run(discharging)
    c = _longest_run(charging[d.stop:])
    c = slice(c.start + d.stop, c.stop + d.stop)
    moved = float(charge[d.start] - charge[d.stop - 1])
    if moved <= 0:
        raise FitError(f"{test.path}: the discharge moved no charge")
    capacity = capacity_ah or moved
    soc_d = 1.0 - (charge[d.start] - charge[d]) / capacity
    soc_c = 1.0 - moved / capacity + (charge[c] - charge[c.start]) / capacity
    # (on another test's axis a warmer cell may reach a little beyond its 0 %: not kept)
    grid = np.linspace(max(soc_d.min(), soc_c.min(), 0.0), min(soc_d.max(), soc_c.max(), 1.0),
                       2001)
    v_d = np.interp(grid, soc_d[::-1], voltage[d][::-1])
    v_c = np.interp(grid, soc_c, voltage[c])
    mean = np.maximum.accumulate((v_d + v_c) / 2)  # OCV rises with SOC
    socs, volts = resample(grid, mean, OCV_TOLERANCE_V)
    if capacity_ah is None:  # the ends of the window: 0 and 1 by the definition of capacity
        socs[0], socs[-1] = 0.0, 1.0
    return OcvFit(capacity, OcvCurveData(test.temperature_degc, "mean", tuple(socs),
                                         tuple(volts)), float(np.max(np.abs(v_c - v_d)) / 2))


def _longest_run(mask: Array) -> slice:
    best, start = slice(0, 0), None
    for i, on in enumerate([*mask.tolist(), False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start > best.stop - best.start:
                best = slice(start, i)
            start = None
    return best


def resample(x: Array, y: Array, tolerance: float) -> tuple[list[float], list[float]]:
    """The fewest points (a greedy split) whose lines stay within ``tolerance`` of (x, y)."""
    keep = {0, len(x) - 1}
    stack = [(0, len(x) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        line = y[a] + (y[b] - y[a]) * (x[a:b + 1] - x[a]) / (x[b] - x[a])
        worst = int(np.argmax(np.abs(y[a:b + 1] - line)))
        if abs(y[a + worst] - line[worst]) > tolerance:
            keep.add(a + worst)
            stack += [(a, a + worst), (a + worst, b)]
    index = sorted(keep)
    return [float(x[i]) for i in index], [float(y[i]) for i in index]


# --- the circuit from a pulse test ----------------------------------------------------------


@dataclass(frozen=True)
class StepFit:
    soc: float  # at the pulses
    temperature_degc: float
    r0_ohm: float
    rc: tuple[tuple[float, float], ...]
    rmse_v: float
    pulse_resistance_ohm: float  # dV/dI 1 s into the discharge pulse, from the data
    window: slice


def _simulate(params: Array, time_s: Array, current: Array, soc: Array, ocv: OcvCurveData,
              start: Array) -> tuple[Array, Array]:
    """Model voltage over a window and the RC voltages at its end."""
    pairs = (len(params) - 1) // 2
    r0 = params[0]
    dt = np.diff(time_s, prepend=time_s[0])
    v_rc = np.zeros((pairs, len(time_s)))
    state = start.copy()
    for k in range(len(time_s)):
        if k:
            for p in range(pairs):
                r, tau = params[1 + 2 * p], params[2 + 2 * p]
                decay = math.exp(-dt[k] / tau)
                state[p] = state[p] * decay + r * (1.0 - decay) * current[k - 1]
        v_rc[:, k] = state
    ocv_v = np.interp(soc, ocv.soc, ocv.ocv_v)
    return ocv_v + r0 * current + v_rc.sum(axis=0), state


def fit_pulses(test: Test, ocv: OcvFit, pairs: int = 2) -> list[StepFit]:
    """R0 and the RC pairs at every step of a pulse test."""
    from scipy.optimize import least_squares

    capacity = ocv.capacity_ah
    soc = soc_of_pulse_test(test, capacity)
    steps = _steps(test, capacity)
    if not steps:
        raise FitError(f"{test.path}: no pulse steps found (a partial discharge, a rest, "
                       "pulses): is it a pulse test?")
    fits: list[StepFit] = []
    start = np.zeros(pairs)
    guess = np.array([0.02, 0.01, 20.0, 0.01, 600.0][:1 + 2 * pairs])
    low = np.array([1e-5, 1e-5, TAU_BOUNDS_S[0][0], 1e-5, TAU_BOUNDS_S[1][0]][:1 + 2 * pairs])
    high = np.array([1.0, 1.0, TAU_BOUNDS_S[0][1], 1.0, TAU_BOUNDS_S[1][1]][:1 + 2 * pairs])
    for window, pulse_at in steps:
        t, i, v, s = (test.time_s[window], test.current_a[window], test.voltage_v[window],
                      soc[window])

        def residual(x: Array, t: Array = t, i: Array = i, v: Array = v, s: Array = s,
                     start: Array = start) -> Array:
            return _simulate(np.exp(x), t, i, s, ocv.curve, start)[0] - v
        result = least_squares(residual, np.log(guess), bounds=(np.log(low), np.log(high)),
                               x_scale=1.0)
        params = np.exp(result.x)
        model, start = _simulate(params, t, i, s, ocv.curve, start)
        rmse = float(np.sqrt(np.mean((model - v) ** 2)))
        before, after = pulse_at - 1, pulse_at + 1
        resistance = float((test.voltage_v[after] - test.voltage_v[before]) /
                           (test.current_a[after] - test.current_a[before]))
        fits.append(StepFit(float(soc[pulse_at]), test.temperature_degc, float(params[0]),
                            tuple((float(params[1 + 2 * p]), float(params[2 + 2 * p]))
                                  for p in range(pairs)), rmse, resistance, window))
        guess = params
    return fits


def _steps(test: Test, capacity: float) -> list[tuple[slice, int]]:
    """(window, index of the discharge pulse's first sample) per step. A step's window runs
    from the end of the previous step (at first: the rested, full start) through its
    partial discharge, its rest, its discharge pulse, its charge pulse and the rest after."""
    current = test.current_a
    n = len(current)
    pulse = np.abs(current) > 0.5 * capacity  # the pulses: 0.75 C and more
    windows: list[tuple[slice, int]] = []
    begin = _first_rested(test)
    k = begin + 1
    while k < n:
        if not (pulse[k] and not pulse[k - 1] and current[k] < 0):
            k += 1
            continue
        j = k
        while j < n and not (pulse[j] and current[j] > 0):  # to the charge pulse
            j += 1
        while j < n and current[j] > REST_A:  # through it
            j += 1
        while j < n and abs(current[j]) <= REST_A:  # and the rest after it
            j += 1
        if test.time_s[j - 1] - test.time_s[begin] >= MIN_STEP_S:
            windows.append((slice(begin, j), k))
        begin, k = j, j + 1
    return windows


def soc_of_pulse_test(test: Test, capacity_ah: float) -> Array:
    """SOC by the charge counted from the end of the first rest: the test's full start."""
    charge = test.charge_ah
    return 1.0 + (charge - charge[_first_rested(test)]) / capacity_ah


def _first_rested(test: Test) -> int:
    """The last sample of the first rest (the rested, full start)."""
    resting = np.abs(test.current_a) <= REST_A
    k = 0
    while k < len(resting) and not resting[k]:
        k += 1
    while k < len(resting) - 1 and resting[k + 1]:
        k += 1
    return k


# --- the whole fit --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    model: CellModel
    ocv: OcvFit
    steps: list[StepFit]
    tests: list[Test]


def is_ocv_test(test: Test) -> bool:
    """An OCV test discharges without a break for ``OCV_RUN_S`` or more (a C/20 discharge
    takes 20 hours); a pulse test never does."""
    run = _longest_run(test.current_a < -REST_A)
    return run.stop > run.start and \
        float(test.time_s[run.stop - 1] - test.time_s[run.start]) >= OCV_RUN_S


def pulses_of(test: Test, capacity_ah: float) -> list[PulsePoint]:
    """Every pulse of ``test`` that ran its whole length from rest: a steady current for
    `PULSE_S` after `PULSE_REST_S` at rest. One that a cut-off ended early (shorter than
    the test's longest of its kind) is left out. SOC as in `soc_of_pulse_test`."""
    current, time_s, voltage = test.current_a, test.time_s, test.voltage_v
    moving = np.abs(current) > REST_A
    changes = np.flatnonzero(np.diff(moving.astype(np.int8))) + 1
    bounds = np.concatenate(([0], changes, [len(current)]))
    soc = soc_of_pulse_test(test, capacity_ah)
    found: list[PulsePoint] = []
    rested_since = time_s[0]
    for a, b in itertools.pairwise(bounds):
        if not moving[a]:
            rested_since = time_s[a]
            continue
        before = a - 1
        if before < 0 or time_s[before] - rested_since < PULSE_REST_S:
            continue
        amplitude = float(np.median(current[a:b]))
        seconds = float(time_s[b - 1] - time_s[before])
        if not (PULSE_S[0] <= seconds <= PULSE_S[1]) or \
                np.max(np.abs(current[a:b] - amplitude)) > PULSE_STEADY * abs(amplitude):
            continue
        found.append(PulsePoint(test.temperature_degc, float(soc[before]), amplitude,
                                round(seconds), float(voltage[b - 1] - voltage[before])
                                / amplitude))
    longest: dict[float, float] = {}
    for q in found:
        longest[round(q.current_a, 2)] = max(longest.get(round(q.current_a, 2), 0.0), q.seconds)
    return [q for q in found if q.seconds >= longest[round(q.current_a, 2)]
            and q.resistance_ohm > 0]


def is_power_test(test: Test) -> bool:
    """Discharge pulses of `POWER_AMPLITUDES` or more amplitudes (an HPPC test has one)."""
    capacity = max(float(np.max(np.abs(test.current_a))), 1e-9)
    amplitudes = {round(100 * q.current_a / capacity) for q in pulses_of(test, 1.0)
                  if q.current_a < 0}
    return len(amplitudes) >= POWER_AMPLITUDES


def fit_cell(tests: Sequence[Test], name: str, chemistry: str, pairs: int = 2,
             window_v: tuple[float, float] | None = None) -> Fit:
    ocv_tests = [t for t in tests if is_ocv_test(t)]
    power_tests = [t for t in tests if t not in ocv_tests and is_power_test(t)]
    pulse_tests = [t for t in tests if t not in ocv_tests and t not in power_tests]
    if not ocv_tests:
        raise FitError("no OCV test among the files (a C/20 discharge and charge: a "
                       "discharge of five hours or more without a break)")
    if not pulse_tests:
        raise FitError("no pulse test among the files (HPPC)")
    reference = min(ocv_tests, key=lambda t: abs(t.temperature_degc - 25.0))
    ocv = fit_ocv(reference)
    # one curve per tested temperature (the first of each), on the reference's SOC axis
    curves = {reference.temperature_degc: ocv}
    for test in ocv_tests:
        if test.temperature_degc not in curves:
            curves[test.temperature_degc] = fit_ocv(test, ocv.capacity_ah)

    def nearest(t: Test) -> OcvFit:
        return curves[min(curves, key=lambda c: abs(c - t.temperature_degc))]
    steps = [s for t in pulse_tests for s in fit_pulses(t, nearest(t), pairs)]
    low, high = window_v or (min(ocv.curve.ocv_v), max(ocv.curve.ocv_v))
    model = CellModel(
        name=name, chemistry=chemistry, capacity_ah=ocv.capacity_ah,
        ocv=tuple(curves[t].curve for t in sorted(curves)),
        circuit=tuple(CircuitPoint(s.temperature_degc, s.soc, s.r0_ohm, s.rc)
                      for s in sorted(steps, key=lambda s: (s.temperature_degc, s.soc))),
        voltage_max_v=round(high, 3), voltage_min_v=round(low, 3),
        source="bms cell fit " + " ".join(t.path.name for t in tests),
        fit_rmse_mv={f"{t.path.stem}": 1000.0 * _test_rmse(steps, t) for t in pulse_tests},
        pulse_resistance_1s_ohm={
            t: min((s for s in steps if s.temperature_degc == t),
                   key=lambda s: abs(s.soc - 0.5)).pulse_resistance_ohm
            for t in sorted({s.temperature_degc for s in steps})},
        pulses=tuple(q for t in power_tests for q in pulses_of(t, ocv.capacity_ah)))
    return Fit(model, ocv, steps, list(tests))


def _test_rmse(steps: Sequence[StepFit], test: Test) -> float:
    mine = [s for s in steps if s.temperature_degc == test.temperature_degc]
    if not mine:
        return float("nan")
    lengths = [s.window.stop - s.window.start for s in mine]
    return math.sqrt(sum(s.rmse_v ** 2 * n for s, n in zip(mine, lengths, strict=True))
                     / sum(lengths))


def plot_fit(fit: Fit, path: Path) -> None:
    """The OCV, every pulse test's voltage against the fitted model's with the error, and the
    power test's pulse resistance over the current."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pulse_tests = [t for t in fit.tests if not is_ocv_test(t) and not is_power_test(t)]
    panels = 1 + len(pulse_tests) + bool(fit.model.pulses)
    figure, axes = plt.subplots(panels, 1, figsize=(10, 3.2 * panels), squeeze=False)
    curve = fit.ocv.curve
    axes[0][0].plot(curve.soc, curve.ocv_v, ".-", ms=3)
    axes[0][0].set(xlabel="SOC", ylabel="OCV [V]", title=f"{fit.model.name}: OCV "
                   f"({len(curve.soc)} points), capacity {fit.model.capacity_ah:.3f} Ah")
    if fit.model.pulses:
        _plot_pulses(axes[-1][0], fit.model)
    for axis, test in zip(axes[1:], pulse_tests, strict=False):
        ax = axis[0]
        ax.plot(test.time_s / 3600, test.voltage_v, lw=0.8, label="measured")
        start = np.zeros(fit.model.rc_pairs)
        soc = soc_of_pulse_test(test, fit.model.capacity_ah)
        errors = []
        for step in (s for s in fit.steps if s.temperature_degc == test.temperature_degc):
            w = step.window
            params = np.array([step.r0_ohm, *(x for pair in step.rc for x in pair)])
            model, start = _simulate(params, test.time_s[w], test.current_a[w], soc[w],
                                     fit.ocv.curve, start)
            ax.plot(test.time_s[w] / 3600, model, lw=0.8, color="tab:orange")
            errors.append((test.time_s[w] / 3600, 1000 * (model - test.voltage_v[w])))
        twin = ax.twinx()
        for t, e in errors:
            twin.plot(t, e, lw=0.5, color="tab:red")
        twin.set_ylabel("model - measured [mV]", color="tab:red")
        ax.set(xlabel="time [h]", ylabel="voltage [V]",
               title=f"{test.path.name} at {test.temperature_degc:.0f} degC: measured (blue), "
                     "fitted model (orange)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_pulses(ax: Any, model: CellModel) -> None:
    """Per temperature, at the SOC steps nearest 20, 50 and 80 %: resistance over current."""
    for temperature in sorted({q.temperature_degc for q in model.pulses}):
        mine = [q for q in model.pulses if q.temperature_degc == temperature]
        for target, style in ((0.2, ":"), (0.5, "-"), (0.8, "--")):
            step = min({round(q.soc, 1) for q in mine}, key=lambda s: abs(s - target))
            points = sorted((q.current_a, 1000 * q.resistance_ohm) for q in mine
                            if round(q.soc, 1) == step)
            ax.plot([c for c, _ in points], [r for _, r in points], style, marker=".",
                    label=f"{temperature:g} degC, {100 * step:.0f} %")
    ax.set(xlabel="pulse current [A] (positive charges)", ylabel="10 s resistance [mOhm]",
           title=f"{model.name}: the power test's pulses, voltage moved per A")
    ax.legend(fontsize=7, ncol=3)
