"""The current sensor's zero, learned while no current can flow.

With every contactor open (by their auxiliary contacts) the pack current is zero, so what
the sensor reads then is its offset: a Hall or shunt front end drifts by tens of mA, and
integrated over hours that is several percent of SOC on a small cell, which a flat OCV
(LFP) cannot correct. The reading is averaged (exponentially, ``time_constant_s``) once
the circuit has been open for SETTLE_S, and subtracted from every later reading. A reading
beyond ``max_a`` is not an offset but a fault for the diagnosis: it is not learned.
"""

from __future__ import annotations

import math

SETTLE_S = 1.0  # after opening: the DC link and the sensor's filter settle


class CurrentZero:
    def __init__(self, time_constant_s: float, max_a: float) -> None:
        self.time_constant_s = time_constant_s
        self.max_a = max_a
        self.learned_a = 0.0
        self.learning_s = 0.0  # how long it has averaged in all
        self._open_since_s: float | None = None
        self._last_s: float | None = None

    @property
    def offset_a(self) -> float:
        return self.learned_a  # never beyond max_a: such readings are not learned

    def sample(self, measured_a: float, circuit_open: bool, now_s: float) -> None:
        last, self._last_s = self._last_s, now_s
        if not circuit_open or self.time_constant_s == 0:
            self._open_since_s = None
            return
        if abs(measured_a) > self.max_a:
            return  # no offset reads that much: a fault, or feedback that lags the circuit
        if self._open_since_s is None:
            self._open_since_s = now_s
        if now_s - self._open_since_s < SETTLE_S or last is None:
            return
        dt_s = now_s - last
        self.learning_s += dt_s
        # the first samples weigh more, so a fresh start learns within a time constant
        weight = 1.0 - math.exp(-dt_s / min(self.time_constant_s, self.learning_s))
        self.learned_a += weight * (measured_a - self.learned_a)

    def corrected(self, measured_a: float) -> float:
        return measured_a - self.offset_a
