"""Test data of a cell from an electrochemical model (PyBaMM), as a cycler would record it.

`bms cell simulate PROCEDURE -o TEST.csv` runs one of the procedures below on a PyBaMM model
(DFN, SPMe or SPM) with any parameter set PyBaMM ships, and writes what a cycler exports
(docs/cells.md: time, current positive when it charges, terminal voltage, temperature, the
step number) plus the model's own SOC (``soc_true``), so that the identification chain
(`bms cell fit`) and the estimator can be tried here without a cycler:

- ``ocv``: from full (CC-CV, an hour's rest), a C/20 discharge to the lower cut-off, an
  hour's rest, a C/20 charge to the upper one: the two branches of a pseudo-OCV test;
- ``hppc``: from full, nine times: 10 % discharged at C/3, an hour's rest, a 10 s 1 C
  discharge pulse, 40 s rest, a 10 s 0.75 C charge pulse, 40 s rest (pulses at 90 % ... 10 %);
- ``power``: a power-capability test: from full, ten times: 5 % then 10 % discharged at
  C/3, an hour's rest, then 10 s pulses of rising amplitude, discharge and charge in turn
  (discharge C/5, C/2, 1, 2, 3, 4, 5 and 6 C; charge C/5, C/2, 1, 1.5 and 2 C), a minute's
  rest after each; the pulses' net discharge moves each step 5 % further down; a pulse
  that reaches a cut-off ends there;
- ``day``: a day of use of the operator's kind (`--profile ev` or `storage`), generated
  from ``--seed``: drives with regen, rests of different lengths, partial and full charges,
  kept inside the cell's window as the power limits would keep it.

PyBaMM is an optional dependency (``pip install -e '.[cells]'``): only this module imports
it, and only when it runs.
"""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELS = ("DFN", "SPMe", "SPM")
PROCEDURES = ("ocv", "hppc", "power", "day")
# the power test's pulses, C-rates in order: discharge, charge, discharge, ...
POWER_PULSES_C = ((0.2, 0.2), (0.5, 0.5), (1.0, 1.0), (2.0, 1.5), (3.0, 2.0), (4.0, None),
                  (5.0, None), (6.0, None))
PROFILES = ("ev", "storage")
KELVIN = 273.15
REFERENCE_TEMPERATURE_DEGC = 25.0
SAMPLE_S = 1.0
COLUMNS = ("time_s", "current_a", "voltage_v", "temperature_degc", "step", "soc_true")


class SimulationError(RuntimeError):
    """PyBaMM is missing, the parameter set is unknown, or the model did not solve."""


@dataclass(frozen=True)
class Record:
    time_s: list[float]
    current_a: list[float]  # positive charges (PyBaMM's is positive discharging)
    voltage_v: list[float]
    temperature_degc: list[float]
    step: list[int]
    soc_true: list[float]

    def write(self, path: Path, every: int = 1) -> None:
        """As CSV (gzip-compressed when the name ends in .gz), every ``every``-th sample."""
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "wt", newline="") as f:
            out = csv.writer(f)
            out.writerow(COLUMNS)
            rows = zip(self.time_s, self.current_a, self.voltage_v, self.temperature_degc,
                       self.step, self.soc_true, strict=True)
            last = ""
            for index, row in enumerate(rows):
                if index % every:
                    continue
                t, i, v, temp, step, soc = row
                if f"{t:.1f}" == last:  # an event's instant within 0.05 s of a sample
                    continue
                last = f"{t:.1f}"
                out.writerow([last, f"{i:.5f}", f"{v:.5f}", f"{temp:.2f}", step,
                              f"{soc:.6f}"])


def _pybamm() -> Any:
    try:
        import pybamm
    except ImportError as exc:
        raise SimulationError("PyBaMM is not installed: pip install -e '.[cells]' (or "
                              "pip install pybamm)") from exc
    return pybamm


def parameter_sets() -> list[str]:
    """The parameter sets PyBaMM ships (lithium-ion)."""
    pybamm = _pybamm()
    return sorted(pybamm.parameter_sets.keys())


@dataclass(frozen=True)
class Cell:
    """A PyBaMM model with its parameter values at one ambient temperature."""

    parameters: str
    model: str
    temperature_degc: float

    def setup(self) -> tuple[Any, Any, Any]:
        pybamm = _pybamm()
        if self.model not in MODELS:
            raise SimulationError(f"model {self.model!r}: one of {', '.join(MODELS)}")
        try:
            values = pybamm.ParameterValues(self.parameters)
        except Exception as exc:  # PyBaMM raises its own errors for an unknown name
            raise SimulationError(f"parameter set {self.parameters!r}: {exc}; PyBaMM ships "
                                  f"{', '.join(parameter_sets())}") from exc
        kelvin = self.temperature_degc + KELVIN
        values.update({"Ambient temperature [K]": kelvin, "Initial temperature [K]": kelvin,
                       "Reference temperature [K]": values["Reference temperature [K]"]})
        model = getattr(pybamm.lithium_ion, self.model)()
        return pybamm, model, values

    def capacity_ah(self) -> float:
        _, _, values = self.setup()
        return float(values["Nominal cell capacity [A.h]"])

    def window_v(self) -> tuple[float, float]:
        _, _, values = self.setup()
        return (float(values["Lower voltage cut-off [V]"]),
                float(values["Upper voltage cut-off [V]"]))


def _solve(cell: Cell, steps: Sequence[str], initial_soc: float) -> Record:
    pybamm, model, values = cell.setup()
    experiment = pybamm.Experiment(list(steps), period=f"{SAMPLE_S:g} second")
    simulation = pybamm.Simulation(model, parameter_values=values, experiment=experiment)
    try:
        solution = simulation.solve(initial_soc=initial_soc)
    except Exception as exc:
        raise SimulationError(f"{cell.model} on {cell.parameters} did not solve: {exc}") from exc
    return _record(solution, values, cell)


def _record(solution: Any, values: Any, cell: Cell) -> Record:
    time_s = [float(t) for t in solution["Time [s]"].entries]
    current = [-float(i) for i in solution["Current [A]"].entries]
    voltage = [float(v) for v in solution["Voltage [V]"].entries]
    temperature = [float(t) - KELVIN for t in
                   solution["X-averaged cell temperature [K]"].entries]
    pybamm = _pybamm()
    # the model's SOC: its negative electrode's stoichiometry between the parameter set's
    # 0 % and 100 % (those of PyBaMM's initial_soc: the OCV at the cut-off voltages)
    x0, x100 = (float(x) for x in pybamm.lithium_ion.get_min_max_stoichiometries(values)[:2])
    soc = [(float(x) - x0) / (x100 - x0)
           for x in solution["Negative electrode stoichiometry"].entries]
    steps: list[int] = []
    for number, cycle in enumerate(solution.cycles):
        steps += [number] * len(cycle["Time [s]"].entries)
    steps = (steps + [steps[-1] if steps else 0] * len(time_s))[:len(time_s)]
    return _dedupe(Record(time_s, current, voltage, temperature, steps, soc))


def _dedupe(record: Record) -> Record:
    """One sample per time: PyBaMM repeats the boundary instant between steps."""
    keep = [i for i in range(len(record.time_s))
            if i == 0 or record.time_s[i] > record.time_s[i - 1] + 1e-9]
    def kept(column: list[float]) -> list[float]:
        return [column[i] for i in keep]
    return Record(kept(record.time_s), kept(record.current_a), kept(record.voltage_v),
                  kept(record.temperature_degc), [record.step[i] for i in keep],
                  kept(record.soc_true))


def _full_charge(window: tuple[float, float]) -> list[str]:
    return [f"Charge at 0.5C until {window[1]:g} V", f"Hold at {window[1]:g} V until C/50",
            "Rest for 1 hour"]


def _from_full(cell: Cell, steps: list[str]) -> Record:
    """``steps`` from full. Charged at the reference temperature and then soaked, as a
    cycler's chamber takes a cell charged at room temperature: charged at 10 degC the same
    cut-off is reached at another SOC (the OCV moves with temperature), and every test
    would then count its SOC from another full."""
    low, high = cell.window_v()
    if cell.temperature_degc == REFERENCE_TEMPERATURE_DEGC:
        return _solve(cell, [*_full_charge((low, high)), *steps], initial_soc=0.5)
    charged = _solve(Cell(cell.parameters, cell.model, REFERENCE_TEMPERATURE_DEGC),
                     _full_charge((low, high)), initial_soc=0.5)
    return _solve(cell, ["Rest for 1 hour", *steps],
                  initial_soc=min(1.0, charged.soc_true[-1]))


def ocv_test(cell: Cell) -> Record:
    low, high = cell.window_v()
    return _from_full(cell, [f"Discharge at C/20 until {low:g} V", "Rest for 1 hour",
                             f"Charge at C/20 until {high:g} V", "Rest for 1 hour"])


def hppc_test(cell: Cell) -> Record:
    low, high = cell.window_v()
    steps: list[str] = []
    for _ in range(9):  # at 90 %, 80 %, ... 10 %
        steps += [f"Discharge at C/3 for 18 minutes or until {low:g} V", "Rest for 1 hour",
                  f"Discharge at 1C for 10 seconds or until {low:g} V", "Rest for 40 seconds",
                  f"Charge at 0.75C for 10 seconds or until {high:g} V", "Rest for 40 seconds"]
    return _from_full(cell, steps)


def power_test(cell: Cell) -> Record:
    low, high = cell.window_v()
    steps: list[str] = []
    for k in range(10):  # at 95 %, 85 %, ... 5 %
        minutes = 9 if k == 0 else 18
        steps += [f"Discharge at C/3 for {minutes} minutes or until {low:g} V",
                  "Rest for 1 hour"]
        for discharge_c, charge_c in POWER_PULSES_C:
            steps += [f"Discharge at {discharge_c:g}C for 10 seconds or until {low:g} V",
                      "Rest for 1 minute"]
            if charge_c is not None:
                steps += [f"Charge at {charge_c:g}C for 10 seconds or until {high:g} V",
                          "Rest for 1 minute"]
    return _from_full(cell, steps)


# --- a day of use ---------------------------------------------------------------------------


def day_profile(profile: str, seed: int, capacity_ah: float, start_soc: float,
                duration_s: float = 86_400.0) -> list[float]:
    """The current of one day at 1 s (A, positive charging), reproducible from ``seed``: a
    rested start, drives with regen (ev) or inverter swings (storage), rests of a minute to hours,
    partial charges. Kept inside the cell's window as the power limits would keep it: by
    the charge counted from ``start_soc``, discharge currents fall to zero between 40 % and
    15 %, charge currents between 70 % and 90 %."""
    if profile not in PROFILES:
        raise SimulationError(f"profile {profile!r}: one of {', '.join(PROFILES)}")
    rng = random.Random(seed)
    c = capacity_ah
    currents: list[float] = []
    soc = start_soc

    def hold(seconds: float, current: float) -> None:
        nonlocal soc
        for _ in range(max(1, round(seconds))):
            if current < 0:
                allowed = current * min(1.0, max(0.0, (soc - 0.15) / 0.25))
            else:
                allowed = current * min(1.0, max(0.0, (0.90 - soc) / 0.20))
            currents.append(allowed)
            soc += allowed / (3600.0 * c)

    hold(rng.uniform(900, 1800), 0.0)  # parked: the day starts from a rested cell
    while len(currents) < duration_s:
        if profile == "ev":
            for _ in range(rng.randint(60, 240)):  # a drive: accelerate, cruise, brake
                hold(rng.uniform(3, 15), -rng.uniform(0.5, 2.0) * c)
                hold(rng.uniform(5, 40), -rng.uniform(0.1, 0.6) * c)
                hold(rng.uniform(2, 8), rng.uniform(0.1, 0.5) * c)  # regen
                if rng.random() < 0.2:
                    hold(rng.uniform(10, 60), 0.0)  # a stop
            hold(rng.choice((60, 600, 1800, 3600, 7200)) * rng.uniform(0.8, 1.2), 0.0)
            if rng.random() < 0.6:
                hold(rng.uniform(1200, 5400), rng.choice((0.2, 0.3, 0.5)) * c)  # a charge
                hold(rng.uniform(300, 3600), 0.0)
        else:
            for _ in range(rng.randint(4, 12)):  # an inverter: slow swings both ways
                hold(rng.uniform(300, 1800), rng.uniform(-0.5, 0.5) * c)
            hold(rng.uniform(600, 10_800), 0.0)
    return currents[:round(duration_s)]


def day_test(cell: Cell, profile: str, seed: int) -> Record:
    """A day of ``profile`` from a random start SOC in the cell's upper half, and a full
    CC-CV charge at its end."""
    pybamm, model, values = cell.setup()
    low, high = cell.window_v()
    rng = random.Random(seed)
    start = rng.uniform(0.6, 0.9)
    currents = day_profile(profile, seed, cell.capacity_ah(), start)
    import numpy as np

    drive = np.column_stack((np.arange(len(currents), dtype=float),
                             -np.array(currents)))  # PyBaMM's current is positive discharging
    steps = [pybamm.step.current(drive, termination=f"< {low + 0.2:g} V"),
             *_full_charge((low, high))]
    experiment = pybamm.Experiment(steps, period=f"{SAMPLE_S:g} second")
    simulation = pybamm.Simulation(model, parameter_values=values, experiment=experiment)
    try:
        solution = simulation.solve(initial_soc=start)
    except Exception as exc:
        raise SimulationError(f"{cell.model} on {cell.parameters} did not solve: {exc}") from exc
    return _record(solution, values, cell)


def simulate(procedure: str, cell: Cell, profile: str = "ev", seed: int = 1) -> Record:
    runs: dict[str, Callable[[], Record]] = {
        "ocv": lambda: ocv_test(cell), "hppc": lambda: hppc_test(cell),
        "power": lambda: power_test(cell),
        "day": lambda: day_test(cell, profile, seed)}
    if procedure not in runs:
        raise SimulationError(f"procedure {procedure!r}: one of {', '.join(PROCEDURES)}")
    return runs[procedure]()
