"""The pack's request to the vehicle's thermal system: cooling before the cells reach their
operating temperature limits, heating when too cold to charge. With hysteresis, so that the
request does not flap around a threshold."""

from __future__ import annotations

from typing import Final

from dbc.vehicle_frames import ThermalRequest
from master.diagnosis.limits import Limits

COOLING_MARGIN_DEGC: Final = 10.0  # cooling starts this far below the discharge operating limit
CHARGE_COOLING_MARGIN_DEGC: Final = 5.0  # ... or this far below the charge one, while charging
HEATING_MARGIN_DEGC: Final = 5.0  # heating starts this far above the charge under-temperature limit
HYSTERESIS_DEGC: Final = 2.0


class ThermalDemand:
    def __init__(self, limits: Limits) -> None:
        self.cooling_above_degc = limits.discharge_overtemperature_degc.operating - \
            COOLING_MARGIN_DEGC
        self.charge_cooling_above_degc = limits.charge_overtemperature_degc.operating - \
            CHARGE_COOLING_MARGIN_DEGC
        self.heating_below_degc = limits.charge_undertemperature_degc.operating + \
            HEATING_MARGIN_DEGC
        self.request = ThermalRequest.NONE

    def update(self, min_degc: float | None, max_degc: float | None,
               charging: bool) -> ThermalRequest:
        if min_degc is None or max_degc is None:
            self.request = ThermalRequest.NONE
            return self.request
        hot = min(self.cooling_above_degc,
                  self.charge_cooling_above_degc if charging else self.cooling_above_degc)
        keep = HYSTERESIS_DEGC if self.request is ThermalRequest.COOLING else 0.0
        if max_degc >= hot - keep:
            self.request = ThermalRequest.COOLING
            return self.request
        keep = HYSTERESIS_DEGC if self.request is ThermalRequest.HEATING else 0.0
        self.request = ThermalRequest.HEATING if min_degc <= self.heating_below_degc + keep \
            else ThermalRequest.NONE
        return self.request
