"""SOC of every cell: an extended Kalman filter per cell, vectorised over the pack.

State per cell: SOC (0..1), the voltage of the RC pair, and a correction of R0 (ohm) on
top of the cell's learnt R0. The model is the plant's family: OCV(SOC) + (R0 + dR0) I + RC
pair, with the chemistry's OCV table, each cell's learnt capacity and R0, and R1 scaling with
R0. Current is positive when it charges.

Why dR0: a cell's resistance a few % off its model is a voltage bias under current that a
2-state filter can only explain by moving the SOC, which on a flat OCV curve (the LFP
plateau) integrates into errors of several %. With dR0 in the state the bias is absorbed
where the SOC cannot explain it. Cells are independent; each keeps its own 3 x 3 covariance.
"""

from __future__ import annotations

import numpy as np

from master.estimation.ocv_curve import Array, OcvCurve

SECONDS_PER_HOUR = 3600.0
SOC, RC, DR0 = 0, 1, 2
R0_SIGMA_FRACTION = 0.1  # the correction starts with a 1-sigma of 10 % of R0
R0_DRIFT_FRACTION_PER_H = 0.02  # and may wander 2 % of R0 per sqrt(hour)


class SocFilter:
    def __init__(self, curve: OcvCurve, capacity_ah: Array, r0_ohm: Array, r1_per_r0: float,
                 c1_f: float, voltage_sigma_v: float, current_sigma_a: float,
                 soc_drift_per_s: float) -> None:
        cells = len(capacity_ah)
        self.curve = curve
        # shared with the health tracker, which learns them
        self.capacity_ah = capacity_ah
        self.r0_ohm = r0_ohm
        self.r1_per_r0 = r1_per_r0
        self.c1_f = c1_f
        self.voltage_variance = voltage_sigma_v ** 2
        self.current_sigma_a = current_sigma_a
        self.soc_drift_per_s = soc_drift_per_s
        self.soc = np.full(cells, np.nan)
        self.v_rc_v = np.zeros(cells)
        self.dr0_ohm = np.zeros(cells)
        self.p = np.zeros((cells, 3, 3))

    @property
    def initialised(self) -> bool:
        return not bool(np.isnan(self.soc).any())

    @property
    def p_soc(self) -> Array:
        return np.asarray(self.p[:, SOC, SOC], dtype=np.float64)

    def resistance_ohm(self) -> Array:
        """R0 as the filter uses it (at 25 degC): learnt R0 plus its own correction."""
        return np.asarray(self.r0_ohm + self.dr0_ohm, dtype=np.float64)

    def start(self, soc: Array, soc_sigma: float) -> None:
        """Start (or restart) cells from a known SOC; NaN entries keep their state."""
        known = ~np.isnan(soc)
        self.soc[known] = soc[known]
        self.v_rc_v[known] = 0.0
        first = known & ~self.p[:, DR0, DR0].astype(bool)
        self.p[known, SOC, :] = 0.0
        self.p[known, :, SOC] = 0.0
        self.p[known, SOC, SOC] = soc_sigma ** 2
        self.p[known, RC, RC] = 0.01 ** 2
        self.p[first, DR0, DR0] = (R0_SIGMA_FRACTION * self.r0_ohm[first]) ** 2

    def predict(self, dt_s: float, current_a: Array, resistance_factor: Array) -> None:
        """Advance by ``dt_s`` with the mean cell current over that time."""
        if dt_s <= 0:
            return
        r1 = self.resistance_ohm() * self.r1_per_r0 * resistance_factor
        decay = np.exp(-dt_s / (r1 * self.c1_f))
        scale = dt_s / (self.capacity_ah * SECONDS_PER_HOUR)
        self.soc = self.soc + current_a * scale
        self.v_rc_v = self.v_rc_v * decay + r1 * (1.0 - decay) * current_a
        # P = F P F' + Q, F = diag(1, decay, 1); the current's noise enters SOC and RC
        self.p[:, RC, :] *= decay[:, None]
        self.p[:, :, RC] *= decay[:, None]
        self.p[:, SOC, SOC] += (self.current_sigma_a * scale) ** 2 + \
            self.soc_drift_per_s ** 2 * dt_s
        self.p[:, RC, RC] += (self.current_sigma_a * r1 * (1.0 - decay)) ** 2
        self.p[:, DR0, DR0] += (R0_DRIFT_FRACTION_PER_H * self.r0_ohm) ** 2 * \
            dt_s / SECONDS_PER_HOUR

    def model_voltage_v(self, current_a: Array, resistance_factor: Array) -> Array:
        return np.asarray(self.curve.voltage(self.soc)
                          + self.resistance_ohm() * resistance_factor * current_a
                          + self.v_rc_v, dtype=np.float64)

    def correct(self, measured_v: Array, current_a: Array, resistance_factor: Array) -> Array:
        """Fuse measured cell voltages (NaN: no measurement); returns the innovations."""
        h = np.stack([self.curve.slope(self.soc), np.ones_like(self.soc),
                      current_a * resistance_factor], axis=1)  # (cells, 3)
        innovation = measured_v - self.model_voltage_v(current_a, resistance_factor)
        valid = ~np.isnan(innovation)
        innovation = np.where(valid, innovation, 0.0)
        ph = np.einsum("nij,nj->ni", self.p, h)  # P H'
        s = np.einsum("ni,ni->n", h, ph) + self.voltage_variance
        gain = np.where(valid[:, None], ph / s[:, None], 0.0)
        step = gain * innovation[:, None]
        self.soc = self.soc + step[:, SOC]
        self.v_rc_v = self.v_rc_v + step[:, RC]
        self.dr0_ohm = self.dr0_ohm + step[:, DR0]
        self.p = self.p - np.einsum("ni,nj->nij", gain, ph)  # (I - K H) P
        self.p = 0.5 * (self.p + self.p.transpose(0, 2, 1))  # keep it symmetric
        return innovation

    def soc_sigma(self) -> Array:
        return np.sqrt(np.maximum(self.p_soc, 0.0))
