"""Each pack's resistance as the bus sees it, learnt by the site from the pack's own
voltage and current (docs/site.md, "The limits").

The pack publishes the R0 its cells have learnt at 25 degC; on the bus over a second what
counts is more: R0 at its temperature, the RC pairs' share within that time, an aged pack's
cells before its master has learnt them, the cables. Between two of a pack's states a
second or so apart the source behind the resistance barely moves (SOC, the slow RC pairs),
so when the current changed by enough, dV/dI is the resistance the bus divides the current
by. The estimate starts at the published R0 times the chemistry's ratio of the resistance
within a second to R0, follows each such step with a weight, and stays within bounds
around the published value (a noisy step cannot make it absurd). Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_STEP_A = 5.0  # a smaller change of current says nothing above the voltage's rounding
MAX_GAP_S = 3.0  # further apart, the source has moved too
WEIGHT = 0.3  # of each new step
BOUNDS = (0.7, 4.0)  # times the published R0


@dataclass
class ResistanceTracker:
    ratio: float = 1.2  # the resistance within a second against R0, to start with
    resistance_ohm: float | None = None
    steps: int = 0
    _last: tuple[float, float, float] | None = None  # (t, voltage, current)

    def update(self, t: float, voltage_v: float, current_a: float,
               published_ohm: float) -> float:
        """The estimate after the pack's state at ``t``."""
        if self.resistance_ohm is None:
            self.resistance_ohm = published_ohm * self.ratio
        last = self._last
        self._last = (t, voltage_v, current_a)
        if last is not None and t - last[0] <= MAX_GAP_S and \
                abs(current_a - last[2]) >= MIN_STEP_A:
            step_ohm = (voltage_v - last[1]) / (current_a - last[2])
            low, high = (published_ohm * bound for bound in BOUNDS)
            if math.isfinite(step_ohm) and step_ohm > 0:
                self.resistance_ohm += WEIGHT * (min(max(step_ohm, low), high)
                                                 - self.resistance_ohm)
                self.steps += 1
        low, high = (published_ohm * bound for bound in BOUNDS)
        self.resistance_ohm = min(max(self.resistance_ohm, low), high)
        return self.resistance_ohm
