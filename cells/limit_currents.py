"""The currents that take a PyBaMM cell from rest to a voltage limit in a given time: what
the resistance power limit is measured against (bench/estimation_days.py).

For each SOC, the constant current (charge and discharge) after which the cell's voltage is
exactly at the limit when ``horizon_s`` has passed, found by bisection on the model itself.
The results are kept beside the days as CSV (``LimitCurrents.write``), with the limits
they were computed for, so that the bench runs without PyBaMM.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cells.simulate import Cell, SimulationError

HORIZON_S = 10.0
SOCS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MAX_C = 10.0  # searched up to 10 C; beyond, "above" (the maximum limiter binds far sooner)
TOLERANCE_A = 0.002  # per Ah of capacity
COLUMNS = ("temperature_degc", "soc", "limit_max_v", "limit_min_v", "horizon_s",
           "charge_a", "discharge_a")


@dataclass(frozen=True)
class LimitPoint:
    temperature_degc: float
    soc: float
    limit_max_v: float
    limit_min_v: float
    horizon_s: float
    charge_a: float  # inf: the limit is not reached at MAX_C
    discharge_a: float  # a magnitude


def _voltage_after(simulation: Any, horizon_s: float, soc: float, current_a: float,
                   limit_v: float) -> float:
    """The terminal voltage after ``horizon_s`` at ``current_a`` (PyBaMM's sign: positive
    discharges); a run ended early at a cut-off counts as past the limit."""
    try:
        solution = simulation.solve([0.0, horizon_s], initial_soc=soc,
                                    inputs={"Current function [A]": current_a})
    except Exception:  # a solver failure at an extreme current: past any limit
        return -math.inf if current_a > 0 else math.inf
    voltage = solution["Voltage [V]"].entries
    if float(solution["Time [s]"].entries[-1]) < horizon_s - 1e-6:
        return -math.inf if current_a > 0 else math.inf
    return float(voltage[-1]) if len(voltage) else limit_v


def limit_current_a(cell: Cell, soc: float, limit_v: float, charge: bool,
                    horizon_s: float = HORIZON_S) -> float:
    """The magnitude of the constant current that brings ``cell`` from rest at ``soc`` to
    ``limit_v`` in ``horizon_s``; inf when even ``MAX_C`` does not."""
    pybamm, model, values = cell.setup()
    values.update({"Current function [A]": "[input]"})
    simulation = pybamm.Simulation(model, parameter_values=values)
    capacity = float(values["Nominal cell capacity [A.h]"])
    sign = -1.0 if charge else 1.0

    def past(magnitude: float) -> bool:
        v = _voltage_after(simulation, horizon_s, soc, sign * magnitude, limit_v)
        return v >= limit_v if charge else v <= limit_v

    low, high = 0.0, MAX_C * capacity
    if past(0.0):
        raise SimulationError(f"{cell.parameters} at {soc:.0%}: already past {limit_v} V")
    if not past(high):
        return math.inf
    while high - low > TOLERANCE_A * capacity:
        middle = (low + high) / 2
        low, high = (low, middle) if past(middle) else (middle, high)
    return (low + high) / 2


def limit_points(cell: Cell, limit_max_v: float, limit_min_v: float,
                 socs: tuple[float, ...] = SOCS,
                 horizon_s: float = HORIZON_S) -> list[LimitPoint]:
    return [LimitPoint(cell.temperature_degc, soc, limit_max_v, limit_min_v, horizon_s,
                       limit_current_a(cell, soc, limit_max_v, True, horizon_s),
                       limit_current_a(cell, soc, limit_min_v, False, horizon_s))
            for soc in socs]


def write_points(points: list[LimitPoint], path: Path) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for p in points:
            out.writerow([f"{p.temperature_degc:g}", f"{p.soc:g}", f"{p.limit_max_v:g}",
                          f"{p.limit_min_v:g}", f"{p.horizon_s:g}", f"{p.charge_a:.4f}",
                          f"{p.discharge_a:.4f}"])


def read_points(path: Path) -> list[LimitPoint]:
    with path.open(newline="") as f:
        return [LimitPoint(*(float(row[c]) for c in COLUMNS)) for row in csv.DictReader(f)]
