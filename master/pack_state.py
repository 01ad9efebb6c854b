"""The latest valid value of every cell voltage and temperature, with its time, and the
pack figures derived from them (min, max, average, sum, with locations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

MV_PER_V: Final = 1000.0
Array = NDArray[np.float64]


@dataclass(init=False)
class Extreme:
    """A value and where it is: module, and cell or sensor. (``__init__`` written out:
    docs/compiled.md.)"""

    value: float
    module_id: int
    index: int

    def __init__(self, value: float, module_id: int, index: int) -> None:
        self.value = value
        self.module_id = module_id
        self.index = index


@dataclass(frozen=True)
class PackSummary:
    """Figures over the cells that are valid and fresher than the freshness limit."""

    cells_expected: int
    cells_valid: int
    min_cell_mv: Extreme | None
    max_cell_mv: Extreme | None
    avg_cell_mv: float | None
    sum_of_cells_v: float | None  # only when every cell is valid and fresh
    min_temperature_degc: Extreme | None
    max_temperature_degc: Extreme | None
    sensors_expected: int
    sensors_valid: int


@dataclass(init=False)
class Figures:
    count: int
    total: float
    low: Extreme | None
    high: Extreme | None

    def __init__(self, count: int, total: float, low: Extreme | None,
                 high: Extreme | None) -> None:
        self.count = count
        self.total = total
        self.low = low
        self.high = high


class MeasurementTable:
    """One row per module; None is an invalid or never-received value."""

    def __init__(self, modules: int, per_module: int) -> None:
        self.values: list[list[float | None]] = [[None] * per_module for _ in range(modules)]
        self.times_s: list[list[float]] = [[float("-inf")] * per_module for _ in range(modules)]
        self.per_module = per_module

    def update(self, module_id: int, first: int, values: tuple[float | None, ...],
               now_s: float) -> None:
        # groups are padded with invalid markers past the last element
        end = min(first + len(values), self.per_module)
        if end > first:
            self.values[module_id][first:end] = values[:end - first]
            self.times_s[module_id][first:end] = [now_s] * (end - first)

    def matrix(self, now_s: float, max_age_s: float) -> Array:
        """Modules x elements; NaN where invalid or older than ``max_age_s``."""
        matrix = np.array(self.values, dtype=float)  # None becomes NaN
        oldest = now_s - max_age_s
        if any(min(row) < oldest for row in self.times_s):  # seldom: a module is quiet
            matrix[np.array(self.times_s) < oldest] = np.nan
        return matrix

    def fresh(self, now_s: float, max_age_s: float) -> list[tuple[int, int, float]]:
        """(module, index, value) of every valid value no older than ``max_age_s``."""
        oldest = now_s - max_age_s
        return [
            (m, i, value)
            for m, (row, times) in enumerate(zip(self.values, self.times_s, strict=True))
            for i, (value, t) in enumerate(zip(row, times, strict=True))
            if value is not None and t >= oldest
        ]

    def means(self, now_s: float, max_age_s: float) -> list[float | None]:
        """Per module, the mean of its valid values no older than ``max_age_s``; None when
        it has none."""
        oldest = now_s - max_age_s
        means: list[float | None] = []
        for row, times in zip(self.values, self.times_s, strict=True):
            valid = [v for v, t in zip(row, times, strict=True) if v is not None and t >= oldest]
            means.append(sum(valid) / len(valid) if valid else None)
        return means

    def figures(self, now_s: float, max_age_s: float) -> Figures:
        """Count, sum and extremes of the valid values no older than ``max_age_s``: what
        `fresh` would give, in one plain loop (compiled: 30 us for 512 cells, where the array
        operations on a matrix cost three times that in the harness, their caches cold).
        The extremes are the stored values themselves; a tie goes to the first in module and
        index order."""
        oldest = now_s - max_age_s
        count = 0
        total = 0.0
        low_v = high_v = 0.0
        low_at = high_at = (0, 0)  # (module, index)
        for module_id, (row, times) in enumerate(zip(self.values, self.times_s, strict=True)):
            quiet = min(times) < oldest  # seldom: a value of the module is too old
            for index, value in enumerate(row):
                if value is None or (quiet and times[index] < oldest):
                    continue
                v: float = value
                count += 1
                total += v
                if count == 1 or v < low_v:
                    low_v, low_at = v, (module_id, index)
                if count == 1 or v > high_v:
                    high_v, high_at = v, (module_id, index)
        if not count:
            return Figures(0, 0.0, None, None)
        return Figures(count, total, Extreme(low_v, *low_at), Extreme(high_v, *high_at))

    def complete_total(self, now_s: float, max_age_s: float) -> float | None:
        """The sum of every value when all are valid and fresh, else None: `figures`'
        total then (exactly, for the integer millivolts of the cells), without the extremes
        (asked at every IVT voltage frame)."""
        oldest = now_s - max_age_s
        total = 0.0
        for row, times in zip(self.values, self.times_s, strict=True):
            if None in row or min(times) < oldest:
                return None
            total += sum(row)  # type: ignore[arg-type]
        return total

    def age_s(self, module_id: int, index: int, now_s: float) -> float:
        return now_s - self.times_s[module_id][index]


class PackState:
    def __init__(self, modules: int, cells_per_module: int, sensors_per_module: int) -> None:
        self.cell_mv = MeasurementTable(modules, cells_per_module)
        self.temperature_degc = MeasurementTable(modules, sensors_per_module)

    def sum_of_cells_v(self, now_s: float, cell_max_age_s: float) -> float | None:
        """`summary`'s sum_of_cells_v alone (the master compares it with every IVT voltage)."""
        total_mv = self.cell_mv.complete_total(now_s, cell_max_age_s)
        return None if total_mv is None else total_mv / MV_PER_V

    def summary(self, now_s: float, cell_max_age_s: float,
                temperature_max_age_s: float) -> PackSummary:
        cells = self.cell_mv.figures(now_s, cell_max_age_s)
        sensors = self.temperature_degc.figures(now_s, temperature_max_age_s)
        expected = len(self.cell_mv.values) * self.cell_mv.per_module
        return PackSummary(
            cells_expected=expected,
            cells_valid=cells.count,
            min_cell_mv=cells.low,
            max_cell_mv=cells.high,
            avg_cell_mv=cells.total / cells.count if cells.count else None,
            sum_of_cells_v=cells.total / MV_PER_V if cells.count == expected else None,
            min_temperature_degc=sensors.low,
            max_temperature_degc=sensors.high,
            sensors_expected=len(self.temperature_degc.values) * self.temperature_degc.per_module,
            sensors_valid=sensors.count,
        )
