"""The current sensor's gain, learnt over full cycles.

A gain error is invisible between two full points: the charge counted in and out is off
by the same factor and cancels. It shows where the counted charge meets an SOC known without
it: between a full point (the end of the voltage plateau, master/estimation/drift.py) and
an OCV reading after a rest, on the steep part of the curve (LFP: below about 40 %, the other
end of a full cycle). Per cell known at both references, the SOC the sensor counted between
them (as it read: before any gain is taken off) against the SOC the OCV says moved is the
sensor's gain; a span of at least ``min_span`` is needed (the references' own error over a
short span is a large gain error). A new reference pairs with the latest of the other kind
(two rest points are the capacity's measurement, master/estimation/health.py; two full points
span nothing). The learnt gain moves by
``weight`` of the way to each measurement and is held within 1 +- ``max_fraction``: a
capacity that has faded unnoticed, or a reference read on the wrong OCV branch, looks like
a gain error, and the bound keeps such a mistake small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from master.estimation.ocv_curve import Array

PCT = 100.0


@dataclass(frozen=True)
class Reference:
    """An SOC known without the coulomb count: per cell (NaN where not known), with the
    SOC the sensor had counted by then as it read (a running sum, per cell)."""

    soc: Array
    counted: Array
    full: bool  # a full point (else an OCV rest point)


@dataclass(frozen=True)
class GainChange:
    old: float  # the gain before (the sensor reads this many times the true current)
    new: float
    measured: float  # what this full cycle measured, before the weight and the bound
    span: float  # the SOC the references say moved (0..1, signed)
    counted_span: float  # the SOC the sensor counted over it, as it read
    clamped: bool


class CurrentGain:
    def __init__(self, max_fraction: float, min_span: float, weight: float) -> None:
        self.max_fraction = max_fraction
        self.min_span = min_span
        self.weight = weight
        self.gain = 1.0  # the sensor reads gain x the true current
        self.full: Reference | None = None  # the latest full point
        self.rest: Reference | None = None  # the latest rest point

    @property
    def enabled(self) -> bool:
        return self.max_fraction > 0

    def corrected(self, measured_a: float) -> float:
        return measured_a / self.gain

    def reference(self, reference: Reference) -> GainChange | None:
        """A new reference: the gain it measures with the latest of the other kind, if they
        are far enough apart (a full cycle's half)."""
        if reference.full:
            anchor, self.full = self.rest, reference
        else:
            anchor, self.rest = self.full, reference
        if anchor is None or not self.enabled:
            return None
        known = ~np.isnan(anchor.soc) & ~np.isnan(reference.soc)
        if not known.any():
            return None
        span = float(np.mean(reference.soc[known] - anchor.soc[known]))
        if abs(span) < self.min_span:
            return None
        counted = float(np.mean(reference.counted[known] - anchor.counted[known]))
        measured = counted / span
        if not math.isfinite(measured) or measured <= 0:
            return None
        moved = self.gain + self.weight * (measured - self.gain)
        low, high = 1.0 - self.max_fraction, 1.0 + self.max_fraction
        new = min(high, max(low, moved))
        change = GainChange(self.gain, new, measured, span, counted, new != moved)
        self.gain = new
        return change

    # --- persistence ----------------------------------------------------------------------

    def record(self, counted: Array) -> dict[str, Any]:
        """The gain and the latest references, their counted charge as the SOC counted
        since (the running sum starts again at a restart)."""
        def reference(r: Reference | None) -> dict[str, Any] | None:
            return None if r is None else {
                "soc": [None if math.isnan(x) else float(x) for x in r.soc],
                "counted_since": [float(x) for x in counted - r.counted]}
        return {"gain": self.gain, "full": reference(self.full), "rest": reference(self.rest)}

    def restore(self, record: Any, counted: Array) -> None:
        """Raises KeyError, TypeError or ValueError on a record it cannot read. A gain
        beyond the bound (set narrower since) comes back at the bound."""
        gain = float(record["gain"])
        if not math.isfinite(gain):
            raise ValueError(f"a gain of {gain}")
        references = [_reference(record[kind], counted, kind == "full")
                      for kind in ("full", "rest")]
        self.full, self.rest = references
        self.gain = min(1.0 + self.max_fraction, max(1.0 - self.max_fraction, gain))


def _reference(stored: Any, counted: Array, full: bool) -> Reference | None:
    if stored is None:
        return None
    soc = np.array([math.nan if x is None else float(x) for x in stored["soc"]])
    since = np.array([float(x) for x in stored["counted_since"]])
    if len(soc) != len(counted) or len(since) != len(counted):
        raise ValueError(f"a reference for {len(soc)} cells, not {len(counted)}")
    return Reference(soc, counted - since, full)


def describe(change: GainChange) -> str:
    note = f"; clamped at the bound from {(change.measured - 1) * PCT:+.2f} %" \
        if change.clamped else ""
    return (f"current sensor gain: reads {(change.old - 1) * PCT:+.2f} % -> "
            f"{(change.new - 1) * PCT:+.2f} % (a full cycle: {change.span * PCT:+.1f} points "
            f"by the OCV, {change.counted_span * PCT:+.1f} counted{note})")
