"""The current that moves a cell by a given voltage in a power test's pulse length: the
resistance power limit where the cell file has a power test (`bms.chemistry.PulseMap`).

A real cell's 10 s resistance falls with the current (charge transfer: Butler-Volmer) and
rises near the ends of its SOC window (diffusion); the fitted circuit is linear in the
current. The power test measured, at its SOC steps, the voltage each amplitude moved the
rested cell by, per A. At a cell's SOC and temperature:

- an amplitude counts between the SOC steps that completed it at the temperatures tested
  around the cell's, not beyond them (near full the larger charge pulses could not run:
  their resistance at a lower SOC is not theirs there); the resistance is linear in SOC and
  temperature between them; a larger amplitude never counts where a smaller one does not;
- between amplitudes the resistance is linear in the current (where it falls and is convex,
  as Butler-Volmer's is above about twice the exchange current, the line lies above it and
  the limit errs strict; below, where it is concave, up to about 1 % loose); below the
  smallest one the first segment's line carries on to zero current, above the largest one
  that one's resistance holds;
- no current beyond the largest the test completed there (its ceiling, linear between the
  steps): of the pulses a cut-off ended nothing is known but that the cell could not;
- beyond the tested temperatures the cell's resistance law (`ResistanceTemperature`)
  scales the resistances of the nearest one.

`PulseTable` puts the map on one SOC grid once, so that a master period costs a few dozen
array operations for the whole pack (`bench/estimation_days.py` runs a day in minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bms.chemistry import PulseCeiling, PulseCurve, PulseMap, ResistanceTemperature
from master.estimation.ocv_curve import Array

NO_CEILING_C = 1e9  # a map without ceilings (finite: weights of 0 times it stay 0)


@dataclass(frozen=True)
class _Side:
    """One direction on the common grid."""

    c_rates: Array  # (amplitudes,), rising; padded to the other side's count, unmeasured


class PulseTable:
    def __init__(self, pulses: PulseMap, capacity_ah: float, law: ResistanceTemperature) -> None:
        self.seconds = pulses.seconds
        self.capacity_ah = capacity_ah
        self.law = law
        self.temperatures = np.asarray(pulses.temperatures_degc, dtype=np.float64)
        every = [c for side in (pulses.charge, pulses.discharge) for per_t in side
                 for c in per_t]
        tops = (*pulses.charge_ceiling, *pulses.discharge_ceiling)
        self.grid = np.array(sorted({s for c in every for s in c.soc} |
                                    {s for top in tops for s in top.soc}), dtype=np.float64)
        rates = [sorted({c.c_rate for per_t in side for c in per_t})
                 for side in (pulses.charge, pulses.discharge)]
        n = max(len(r) for r in rates)
        # (side, temperature, SOC point, amplitude): both sides in one gather per period
        shape = (2, len(self.temperatures), len(self.grid), n)
        self._resistance_ohm_ah, self._measured = np.zeros(shape), np.zeros(shape)
        self._ceiling_c = np.full(shape[:3], NO_CEILING_C)
        for k, (table, ceilings) in enumerate(((pulses.charge, pulses.charge_ceiling),
                                               (pulses.discharge, pulses.discharge_ceiling))):
            self._fill(k, table, ceilings, rates[k])
        self.sides = tuple(_Side(np.array([*r, *[r[-1] * (2 + i) for i in range(n - len(r))]]))
                           for r in rates)

    def _fill(self, k: int, table: tuple[tuple[PulseCurve, ...], ...],
              ceilings: tuple[PulseCeiling, ...], rates: list[float]) -> None:
        resistance, measured = self._resistance_ohm_ah[k], self._measured[k]
        for t, per_t in enumerate(table):
            for a, rate in enumerate(rates):  # one not run here: the nearest one's values
                curve = min(per_t, key=lambda c: abs(c.c_rate - rate))
                resistance[t, :, a] = np.interp(self.grid, curve.soc, curve.resistance_ohm_ah)
                if curve.c_rate == rate:
                    measured[t, :, a] = (self.grid >= curve.soc[0] - 1e-9) & \
                        (self.grid <= curve.soc[-1] + 1e-9)
            resistance[t, :, len(rates):] = resistance[t, :, len(rates) - 1:len(rates)]
        for t, top in enumerate(ceilings):
            self._ceiling_c[k, t] = np.interp(self.grid, top.soc, top.c_rate)

    def at(self, soc: Array, temperature_degc: Array, scale: Array) -> PulseState:
        """Every cell's resistances and ceilings at its SOC and temperature, its resistances
        x ``scale`` (a cell's learnt R0 against the file's: ageing)."""
        soc = np.asarray(soc, dtype=np.float64)
        t = np.asarray(temperature_degc, dtype=np.float64)
        grid, temps = self.grid, self.temperatures
        clamped = np.minimum(np.maximum(t, temps[0]), temps[-1])
        if np.any(clamped != t):  # beyond the tested temperatures: the resistance law
            scale = scale * np.array([self.law.factor(float(a)) / self.law.factor(float(b))
                                      for a, b in zip(t, clamped, strict=True)])
        i, w_soc = _bracket(grid, soc)
        j, w_t = _bracket(temps, clamped)
        rows = np.stack((j, j, j + 1, j + 1)) if len(temps) > 1 else np.stack((j,) * 4)
        points = np.stack((i, i + 1, i, i + 1)) if len(grid) > 1 else np.stack((i,) * 4)
        weights = np.stack(((1 - w_t) * (1 - w_soc), (1 - w_t) * w_soc,
                            w_t * (1 - w_soc), w_t * w_soc))  # (4 corners, cells)
        r = np.einsum("kc,skca->sca", weights, self._resistance_ohm_ah[:, rows, points])
        measured = np.einsum("kc,skca->sca", weights, self._measured[:, rows, points])
        ceiling = np.einsum("kc,skc->sc", weights, self._ceiling_c[:, rows, points])
        valid = np.logical_and.accumulate(measured > 1.0 - 1e-9, axis=2)
        valid[:, :, 0] = True  # beyond every curve: the smallest amplitude's nearest end
        r *= (scale / self.capacity_ah)[None, :, None]
        return PulseState(self, r, valid, ceiling * self.capacity_ah)


def _bracket(xs: Array, x: Array) -> tuple[Array, Array]:
    """The segment of ``xs`` each ``x`` falls in and the weight of its upper end (the ends
    held beyond)."""
    if len(xs) < 2:
        return np.zeros(len(x), dtype=np.intp), np.zeros(len(x))
    i = np.minimum(np.maximum(np.searchsorted(xs, x, side="right") - 1, 0), len(xs) - 2)
    w = (x - xs[i]) / (xs[i + 1] - xs[i])
    return i, np.minimum(np.maximum(w, 0.0), 1.0)


@dataclass(frozen=True)
class PulseState:
    table: PulseTable
    resistance_ohm: Array  # (side: charge, discharge; cells; amplitudes)
    valid: Array  # same shape: the amplitude counts there
    ceiling_a: Array  # (side, cells)

    def current_a(self, headroom_v: Array, charge: bool) -> Array:
        """Per cell: the magnitude of the constant current that uses up ``headroom_v`` in
        the table's pulse length."""
        k = 0 if charge else 1
        r, valid = self.resistance_ohm[k], self.valid[k]
        amplitudes = self.table.sides[k].c_rates * self.table.capacity_ah
        h = np.maximum(np.asarray(headroom_v, dtype=np.float64), 0.0)
        cells = np.arange(len(h))
        current = h / r[cells, valid.sum(axis=1) - 1]  # beyond the largest measured pulse
        if len(amplitudes) > 1:
            r0, r1 = r[:, :-1], r[:, 1:]
            a0, a1 = amplitudes[:-1], amplitudes[1:]
            slope = (r1 - r0) / (a1 - a0)
            b = r0 - slope * a0  # V = slope I^2 + b I on each segment (the first one also
            hh = h[:, None]  # below its start)
            segment = 2.0 * hh / np.maximum(b + np.sqrt(np.maximum(b * b + 4 * slope * hh, 0)),
                                            1e-12)
            inside = (hh <= a1 * r1) & valid[:, 1:]
            first = np.argmax(inside, axis=1)  # the lowest segment that holds h
            current = np.where(inside.any(axis=1), segment[cells, first], current)
        return np.asarray(np.minimum(current, self.ceiling_a[k]), dtype=np.float64)
