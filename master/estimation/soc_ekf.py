"""SOC of every cell: an extended Kalman filter per cell, vectorised over the pack.

State per cell: SOC (0..1) and the voltage of the RC pair of the equivalent circuit
(OCV(SOC) + R0 I + RC pair, the same model family as the plant, with the chemistry's
reference parameters and each cell's learnt capacity and R0; a cell's R1 is taken to scale
with its R0). Current is positive when it
charges. Cells are independent, so each 2 x 2 covariance is kept as three arrays.
"""

from __future__ import annotations

import numpy as np

from master.estimation.ocv_curve import Array, OcvCurve

SECONDS_PER_HOUR = 3600.0


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
        self.p_soc = np.zeros(cells)  # variance of SOC
        self.p_cross = np.zeros(cells)  # covariance SOC / RC voltage
        self.p_rc = np.zeros(cells)  # variance of the RC voltage

    @property
    def initialised(self) -> bool:
        return not bool(np.isnan(self.soc).any())

    def start(self, soc: Array, soc_sigma: float) -> None:
        """Start (or restart) cells from a known SOC; NaN entries keep their state."""
        known = ~np.isnan(soc)
        self.soc[known] = soc[known]
        self.v_rc_v[known] = 0.0
        self.p_soc[known] = soc_sigma ** 2
        self.p_cross[known] = 0.0
        self.p_rc[known] = (0.01) ** 2

    def predict(self, dt_s: float, current_a: Array, resistance_factor: Array) -> None:
        """Advance by ``dt_s`` with the mean cell current over that time."""
        if dt_s <= 0:
            return
        r1 = self.r0_ohm * self.r1_per_r0 * resistance_factor
        decay = np.exp(-dt_s / (r1 * self.c1_f))
        scale = dt_s / (self.capacity_ah * SECONDS_PER_HOUR)
        self.soc = self.soc + current_a * scale
        self.v_rc_v = self.v_rc_v * decay + r1 * (1.0 - decay) * current_a
        # P = F P F' + Q with F = diag(1, decay); the current's noise enters both states
        q_soc = (self.current_sigma_a * scale) ** 2 + self.soc_drift_per_s ** 2 * dt_s
        q_rc = (self.current_sigma_a * r1 * (1.0 - decay)) ** 2
        self.p_soc = self.p_soc + q_soc
        self.p_cross = self.p_cross * decay
        self.p_rc = self.p_rc * decay * decay + q_rc

    def model_voltage_v(self, current_a: Array, resistance_factor: Array) -> Array:
        return (self.curve.voltage(self.soc) + self.r0_ohm * resistance_factor * current_a
                + self.v_rc_v)

    def correct(self, measured_v: Array, current_a: Array, resistance_factor: Array) -> Array:
        """Fuse measured cell voltages (NaN: no measurement); returns the innovations."""
        h = self.curve.slope(self.soc)
        innovation = measured_v - self.model_voltage_v(current_a, resistance_factor)
        valid = ~np.isnan(innovation)
        innovation = np.where(valid, innovation, 0.0)
        ph_soc = self.p_soc * h + self.p_cross
        ph_rc = self.p_cross * h + self.p_rc
        s = h * ph_soc + ph_rc + self.voltage_variance
        k_soc = np.where(valid, ph_soc / s, 0.0)
        k_rc = np.where(valid, ph_rc / s, 0.0)
        self.soc = self.soc + k_soc * innovation
        self.v_rc_v = self.v_rc_v + k_rc * innovation
        p_soc = self.p_soc - k_soc * ph_soc
        p_cross = self.p_cross - k_soc * ph_rc
        self.p_rc = self.p_rc - k_rc * ph_rc
        self.p_soc, self.p_cross = p_soc, p_cross
        return innovation

    def soc_sigma(self) -> Array:
        return np.sqrt(np.maximum(self.p_soc, 0.0))
