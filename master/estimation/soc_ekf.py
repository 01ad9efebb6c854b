"""SOC of every cell: an extended Kalman filter per cell, vectorised over the pack.

State per cell: SOC (0..1), the voltage of the RC pair, and a correction of R0 (ohm) on
top of the cell's learnt R0. The model is the plant's family: OCV(SOC) + (R0 + dR0) I + RC
pair, with the chemistry's OCV table, each cell's learnt capacity and R0, and R1 scaling with
R0. Current is positive when it charges.

Why dR0: a cell's resistance a few % off its model is a voltage bias under current that a
2-state filter can only explain by moving the SOC, which on a flat OCV curve (the LFP
plateau) integrates into errors of several %. With dR0 in the state the bias is absorbed
where the SOC cannot explain it.

The published SOC sigma also holds what the covariance cannot: the OCV table's own error
against the cell, the same from one reading to the next, so never averaged away. It is
taken as the table sitting a little off along the SOC axis (an offset c: the voltage error
is then c x dOCV/dSOC, a few mV where the curve is steep, next to nothing on a plateau, as
measured on fitted tables). A consider analysis carries the estimate's sensitivity to c
through every prediction and correction (the gain is the filter's own, unchanged); the
sigma is then sqrt(P_SS + (sigma_c * sensitivity)^2).

Cells are independent; each keeps its own 3 x 3 covariance, stored as its six distinct
elements, each a contiguous array over the cells: the filter's steps are then plain
element-wise operations (a third of the time of matrix products over an array of 3 x 3
matrices, every measurement period).
"""

from __future__ import annotations

import numpy as np

from master.estimation.ocv_curve import Array, OcvCurve

SECONDS_PER_HOUR = 3600.0
# rows of the stored covariance of (SOC, RC voltage, dR0): its upper triangle
SS, SR, SD, RR, RD, DD = range(6)
_ELEMENT = ((SS, SR, SD), (SR, RR, RD), (SD, RD, DD))  # (i, j) -> row
R0_SIGMA_FRACTION = 0.1  # the correction starts with a 1-sigma of 10 % of R0
R0_DRIFT_FRACTION_PER_H = 0.02  # and may wander 2 % of R0 per sqrt(hour)


class SocFilter:
    def __init__(self, curve: OcvCurve, capacity_ah: Array, r0_ohm: Array, r1_per_r0: float,
                 c1_f: float, voltage_sigma_v: float, current_sigma_a: float,
                 soc_drift_per_s: float, load_sigma_fraction: float = 0.0,
                 load_memory_s: float = 0.0, correction_max_load_a: float = 0.0,
                 dr0_min_current_a: float = 0.0, ocv_soc_sigma: float = 0.0) -> None:
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
        # under current the model's error grows with the load (diffusion the one RC pair
        # does not hold): a voltage's 1-sigma grows by this fraction of its R0 drop
        # and stays grown for a while after it: the polarisation outlives the current
        self.load_sigma_fraction = load_sigma_fraction
        self.load_memory_s = load_memory_s
        self.load_a = np.zeros(cells)  # |I| low-passed over load_memory_s
        # above this load (A; 0: none) the voltages correct nothing: a model that is not the
        # cell's turns the polarisation it misses into a SOC drift, correction after correction
        self.correction_max_load_a = correction_max_load_a
        # below this current the resistance correction is held (a consider state): a near
        # zero current tells the resistance nothing, and it would soak up the relaxation
        self.dr0_min_current_a = dr0_min_current_a
        self.soc = np.full(cells, np.nan)
        self.v_rc_v = np.zeros(cells)
        self.dr0_ohm = np.zeros(cells)
        # d(estimate)/d(the OCV table's SOC offset) of (SOC, RC voltage, dR0) per cell: the
        # consider analysis
        self.ocv_soc_sigma = ocv_soc_sigma
        self.offset_soc = np.zeros(cells)  # SOC per SOC
        self.offset_rc = np.zeros(cells)  # V per SOC
        self.offset_dr0 = np.zeros(cells)  # ohm per SOC
        # what the OCV at each cell's temperature adds to the table's (its owner sets it)
        self.ocv_shift_v = np.zeros(cells)
        self.p = np.zeros((6, cells))  # rows SS, SR, SD, RR, RD, DD

    @property
    def initialised(self) -> bool:
        return not bool(np.isnan(self.soc).any())

    @property
    def p_soc(self) -> Array:
        return np.asarray(self.p[SS], dtype=np.float64)

    def covariance(self) -> Array:
        """Every cell's 3 x 3 covariance (SOC, RC voltage, dR0), shape (cells, 3, 3)."""
        return np.stack([np.stack([self.p[row] for row in rows], axis=1)
                         for rows in _ELEMENT], axis=1)

    def resistance_ohm(self) -> Array:
        """R0 as the filter uses it (at 25 degC): learnt R0 plus its own correction."""
        return np.asarray(self.r0_ohm + self.dr0_ohm, dtype=np.float64)

    def start(self, soc: Array, soc_sigma: float, from_ocv: bool = False) -> None:
        """Start (or restart) cells from a known SOC; NaN entries keep their state.
        ``from_ocv``: the SOC was read off the OCV table, so it carries the table's offset."""
        known = ~np.isnan(soc)
        self.soc[known] = soc[known]
        self.v_rc_v[known] = 0.0
        self.offset_soc[known] = 1.0 if from_ocv else 0.0
        self.offset_rc[known] = 0.0
        p = self.p
        first = known & ~p[DD].astype(bool)
        p[SR, known] = p[SD, known] = 0.0  # the SOC's row and column
        p[SS, known] = soc_sigma ** 2
        p[RR, known] = 0.01 ** 2
        p[DD, first] = (R0_SIGMA_FRACTION * self.r0_ohm[first]) ** 2

    def reset_soc(self, soc: Array, soc_sigma: Array | float, from_ocv: bool) -> None:
        """Take an SOC from outside the filter (the operator's, a full point's) as a
        measurement that replaces the SOC: its variance is ``soc_sigma`` squared and its
        correlations with the RC voltage and dR0 go, which keep their values (a charge that
        goes on under current keeps its polarisation). NaN entries keep their state."""
        known = ~np.isnan(soc)
        sigma = np.broadcast_to(np.asarray(soc_sigma, dtype=np.float64), soc.shape)
        self.soc[known] = soc[known]
        self.offset_soc[known] = 1.0 if from_ocv else 0.0
        p = self.p
        p[SR, known] = p[SD, known] = 0.0
        p[SS, known] = sigma[known] ** 2

    def predict(self, dt_s: float, current_a: Array, resistance_factor: Array) -> None:
        """Advance by ``dt_s`` with the mean cell current over that time."""
        if dt_s <= 0:
            return
        r1 = self.resistance_ohm() * self.r1_per_r0 * resistance_factor
        decay = np.exp(-dt_s / (r1 * self.c1_f))
        if self.load_memory_s > 0:
            memory = np.exp(-dt_s / self.load_memory_s)
            self.load_a = self.load_a * memory + np.abs(current_a) * (1.0 - memory)
        scale = dt_s / (self.capacity_ah * SECONDS_PER_HOUR)
        self.soc = self.soc + current_a * scale
        self.v_rc_v = self.v_rc_v * decay + r1 * (1.0 - decay) * current_a
        # P = F P F' + Q, F = diag(1, decay, 1); the current's noise enters SOC and RC
        p = self.p
        p[SR] *= decay
        p[RD] *= decay
        p[RR] *= decay * decay
        self.offset_rc = self.offset_rc * decay
        p[SS] += (self.current_sigma_a * scale) ** 2 + self.soc_drift_per_s ** 2 * dt_s
        p[RR] += (self.current_sigma_a * r1 * (1.0 - decay)) ** 2
        p[DD] += (R0_DRIFT_FRACTION_PER_H * self.r0_ohm) ** 2 * dt_s / SECONDS_PER_HOUR

    def model_voltage_v(self, current_a: Array, resistance_factor: Array,
                        table_ocv_v: Array | None = None) -> Array:
        """``table_ocv_v``: the table's OCV at the SOC, when the caller has it already."""
        if table_ocv_v is None:
            table_ocv_v = self.curve.voltage(self.soc)
        return np.asarray(table_ocv_v + self.ocv_shift_v
                          + self.resistance_ohm() * resistance_factor * current_a
                          + self.v_rc_v, dtype=np.float64)

    def correct(self, measured_v: Array, current_a: Array, resistance_factor: Array) -> Array:
        """Fuse measured cell voltages (NaN: no measurement); returns the innovations."""
        # H = (dOCV/dSOC, 1, I * factor) per cell
        h_soc, h_dr0 = self.curve.slope(self.soc), current_a * resistance_factor
        table_ocv_v = self.curve.voltage(self.soc)
        innovation = measured_v - self.model_voltage_v(current_a, resistance_factor,
                                                       table_ocv_v)
        # the table's OCV the reading implies: beyond the table's ends it would be an SOC the
        # table never measured (its linear extension), and such a reading corrects nothing
        implied_v = table_ocv_v + innovation
        inside = (implied_v >= self.curve.voltage_v[0]) & (implied_v <= self.curve.voltage_v[-1])
        valid = ~np.isnan(innovation) & inside
        innovation = np.where(valid, innovation, 0.0)
        p = self.p
        ph_soc = p[SS] * h_soc + p[SR] + p[SD] * h_dr0  # P H'
        ph_rc = p[SR] * h_soc + p[RR] + p[RD] * h_dr0
        ph_dr0 = p[SD] * h_soc + p[RD] + p[DD] * h_dr0
        load_a = np.maximum(np.abs(current_a), self.load_a)
        load_v = self.load_sigma_fraction * self.resistance_ohm() * resistance_factor * load_a
        if self.correction_max_load_a > 0:
            valid = valid & (load_a <= self.correction_max_load_a)
        s = h_soc * ph_soc + ph_rc + h_dr0 * ph_dr0 + self.voltage_variance + load_v * load_v
        weight = np.where(valid, 1.0 / s, 0.0)  # the gain is P H' / s; none without a reading
        if self.dr0_min_current_a > 0:
            ph_dr0 = np.where(np.abs(current_a) >= self.dr0_min_current_a, ph_dr0, 0.0)
        self.soc = self.soc + ph_soc * weight * innovation
        self.v_rc_v = self.v_rc_v + ph_rc * weight * innovation
        self.dr0_ohm = self.dr0_ohm + ph_dr0 * weight * innovation
        # the table's offset enters every innovation as slope x c: D = (I - K H) D + K slope
        seen = h_soc * self.offset_soc + self.offset_rc + h_dr0 * self.offset_dr0
        self.offset_soc = self.offset_soc + ph_soc * weight * (h_soc - seen)
        self.offset_rc = self.offset_rc + ph_rc * weight * (h_soc - seen)
        self.offset_dr0 = self.offset_dr0 + ph_dr0 * weight * (h_soc - seen)
        # (I - K H) P = P - P H' H P / s: symmetric by construction
        p -= np.stack((ph_soc * ph_soc, ph_soc * ph_rc, ph_soc * ph_dr0, ph_rc * ph_rc,
                       ph_rc * ph_dr0, ph_dr0 * ph_dr0)) * weight
        return innovation

    def soc_sigma(self) -> Array:
        """The SOC's 1-sigma per cell: the covariance's and the OCV table's offset's."""
        offset = self.ocv_soc_sigma * self.offset_soc
        return np.asarray(np.sqrt(np.maximum(self.p_soc, 0.0) + offset * offset),
                          dtype=np.float64)
