"""A module whose voltage ignores the current: its readings change (so it is not frozen), but
not with the load that every other module answers.

A slave that replays old readings with fresh noise, an AFE reading a stale buffer, a forger
that sends plausible values: each shows the master a module that does not sag when the pack
is loaded, nor rise when it is charged, and hides whatever its cells really do. Cells in
series carry the same current, so every module's voltage follows it by about the same
resistance.

Every measurement period the mean cell voltage of each module is kept with the pack current,
for the last ``WINDOW_S``. Once a second, when the current swung by at least ``swing_a`` in
that window, each module's response (the least-squares slope of its mean cell voltage over
the current, mV per A) is compared with the median of the modules': a module answering with
less than ``RESPONSE_FRACTION`` of the median (or the wrong way) ignores the current. The
pack's answer itself must be visible (``VISIBLE_MV`` across the swing), and it takes two
modules to compare.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import NamedTuple

WINDOW_S = 3.0
EVALUATE_PERIOD_S = 1.0
RESPONSE_FRACTION = 0.25
VISIBLE_MV = 10.0


class _Sample(NamedTuple):
    time_s: float
    current_a: float
    means_mv: list[float | None]


def response_mv_per_a(currents_a: list[float], voltages_mv: list[float]) -> float | None:
    """The least-squares slope of voltage over current; None without a spread of current."""
    n = len(currents_a)
    if n < 2:
        return None
    mean_i = sum(currents_a) / n
    mean_v = sum(voltages_mv) / n
    var = sum((i - mean_i) ** 2 for i in currents_a)
    if var <= 0:
        return None
    return sum((i - mean_i) * (v - mean_v) for i, v in zip(currents_a, voltages_mv,
                                                            strict=True)) / var


class CurrentResponse:
    def __init__(self, modules: int, swing_a: float) -> None:
        self.modules = modules
        self.swing_a = swing_a  # 0: the check is off
        self._samples: deque[_Sample] = deque()
        self._evaluated_s = float("-inf")

    @property
    def active(self) -> bool:
        """False when the check is off or has no second module to compare with."""
        return self.swing_a > 0 and self.modules >= 2

    def sample(self, current_a: float | None, means_mv: list[float | None],
               now_s: float) -> list[bool] | None:
        """One measurement period's current and module mean cell voltages (None: not
        fresh). Once a second the verdicts: per module True while it ignores the current,
        False while it follows it or nothing can be judged; None between."""
        if not self.active:
            return None
        samples = self._samples
        while samples and samples[0].time_s < now_s - WINDOW_S:
            samples.popleft()
        if current_a is not None:
            samples.append(_Sample(now_s, current_a, means_mv))
        if now_s - self._evaluated_s < EVALUATE_PERIOD_S:
            return None
        self._evaluated_s = now_s
        verdicts = [False] * self.modules
        currents = [s.current_a for s in samples]
        if not currents or max(currents) - min(currents) < self.swing_a:
            return verdicts
        slopes: list[float | None] = [None] * self.modules
        for module in range(self.modules):
            used = [(s.current_a, v) for s in samples
                    if (v := s.means_mv[module]) is not None]
            if used and max(i for i, _ in used) - min(i for i, _ in used) >= self.swing_a:
                slopes[module] = response_mv_per_a([i for i, _ in used], [v for _, v in used])
        known = [s for s in slopes if s is not None]
        if len(known) < 2:
            return verdicts
        median = statistics.median(known)
        if abs(median) * (max(currents) - min(currents)) < VISIBLE_MV:
            return verdicts
        return [s is not None and s / median < RESPONSE_FRACTION for s in slopes]
