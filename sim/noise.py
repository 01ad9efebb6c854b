"""Gaussian noise with exactly the sequence of `random.Random.gauss`, cheaper per draw.

The simulated AFE draws two dozen values per module and measurement, and `random.gauss` is
Python code of the standard library. This is its algorithm (Box-Muller, keeping the second
value of each pair for the next draw) with the same operations in the same order, compiled
with the plant (`bms/compiled.py`): on the same generator it returns what `gauss` would.
"""

from __future__ import annotations

import math
import random


class GaussNoise:
    def __init__(self, rng: random.Random) -> None:
        self._uniform = rng.random
        self._next: float | None = None

    def gauss(self, mu: float, sigma: float) -> float:
        z = self._next
        self._next = None
        if z is None:
            x2pi = self._uniform() * math.tau
            g2rad = math.sqrt(-2.0 * math.log(1.0 - self._uniform()))
            z = math.cos(x2pi) * g2rad
            self._next = math.sin(x2pi) * g2rad
        return mu + z * sigma
