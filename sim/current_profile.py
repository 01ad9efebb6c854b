"""A repeating piecewise-constant current profile (positive charges the pack).

Steps are given in C (multiples of the cell capacity in A), so one profile suits any cell.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from bms.settings import CurrentStep


class CurrentProfile:
    def __init__(self, steps: Sequence[CurrentStep], capacity_ah: float) -> None:
        if not steps:
            raise ValueError("a profile needs at least one step")
        self._ends_s = list(itertools.accumulate(step.duration_s for step in steps))
        self._currents_a = [step.current_c * capacity_ah for step in steps]
        self.period_s = self._ends_s[-1]

    def current_a(self, elapsed_s: float) -> float:
        t = elapsed_s % self.period_s
        return self._currents_a[min(bisect.bisect_right(self._ends_s, t), len(self._ends_s) - 1)]
