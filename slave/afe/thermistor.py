"""NTC thermistors read as a voltage divider (the usual AFE GPIO input), Beta model."""

from __future__ import annotations

import math
from dataclasses import dataclass

KELVIN_OFFSET = 273.15
REFERENCE_K = 298.15


@dataclass(frozen=True)
class Thermistor:
    beta: float
    r25_ohm: float
    pullup_ohm: float  # from the reference voltage to the input; the NTC to ground
    reference_v: float

    def temperature_degc(self, voltage_v: float) -> float | None:
        """None for an open or shorted sensor (the input at a rail)."""
        if not 0.0 < voltage_v < self.reference_v * 0.995:
            return None
        resistance = self.pullup_ohm * voltage_v / (self.reference_v - voltage_v)
        if resistance <= 0:
            return None
        inverse = 1.0 / REFERENCE_K + math.log(resistance / self.r25_ohm) / self.beta
        return 1.0 / inverse - KELVIN_OFFSET

    def voltage_v(self, temperature_degc: float) -> float:
        """The inverse, for simulated chips."""
        kelvin = temperature_degc + KELVIN_OFFSET
        resistance = self.r25_ohm * math.exp(self.beta * (1.0 / kelvin - 1.0 / REFERENCE_K))
        return self.reference_v * resistance / (resistance + self.pullup_ohm)
