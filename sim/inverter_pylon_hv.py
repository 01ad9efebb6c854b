"""The inverter side of Pylontech HV CAN (docs/PROTOCOLS.md section 4c): an HV hybrid inverter
of the Deye kind that polls the battery.

Every ``keep_alive_period_s`` it asks for the ensemble information (0x4200, 0); at its start
and every ``EQUIPMENT_PERIOD_S`` for the system equipment information (0x4200, 2). It moves
no current before 0x7330 names a Pylontech ("PYLON", what such inverters look for), follows
0x4220's limits and 0x4280's forbidden marks, and stops when the answers stop.
"""

from __future__ import annotations

from bms.settings import Settings
from dbc.frames import Frame
from dbc.inverter_pylon_hv_frames import (
    PylonHvForbidden,
    PylonHvLimits,
    PylonHvManufacturer,
    PylonHvRequest,
    PylonHvRequestKind,
)
from master.inverter_pylon_hv import PYLON_HV_ACCEPTED
from sim.inverter import InverterSim, SeenLimits

EQUIPMENT_PERIOD_S = 10.0
PYLONTECH = "PYLON"


class PylonHvInverterSim(InverterSim):
    PROTOCOL = "pylon_hv"
    ACCEPTED = PYLON_HV_ACCEPTED

    def __init__(self, settings: Settings, now_s: float) -> None:
        super().__init__(settings, now_s)
        # it asks once per keep-alive period: that is how often the limits come
        self.limits_timeout_s = max(self.settings.limits_timeout_s,
                                    3 * self.settings.keep_alive_period_s)
        self.manufacturer = ""
        self._equipment_asked_s: float | None = None

    def ready(self) -> bool:
        return self.manufacturer.startswith(PYLONTECH)

    def on_decoded(self, frame: Frame, now_s: float) -> None:
        if isinstance(frame, PylonHvLimits):
            self.take_limits(SeenLimits(frame.charge_current_a, frame.discharge_current_a,
                                        frame.charge_voltage_v, frame.discharge_voltage_v),
                             now_s)
        elif isinstance(frame, PylonHvForbidden):
            self.charge_enabled = not frame.charge_forbidden
            self.discharge_enabled = not frame.discharge_forbidden
        elif isinstance(frame, PylonHvManufacturer):
            self.manufacturer = frame.name

    def own_frames(self, now_s: float) -> list[Frame]:
        frames: list[Frame] = [PylonHvRequest(PylonHvRequestKind.ENSEMBLE_INFORMATION)]
        if self._equipment_asked_s is None or \
                now_s - self._equipment_asked_s >= EQUIPMENT_PERIOD_S:
            self._equipment_asked_s = now_s
            frames.append(PylonHvRequest(PylonHvRequestKind.SYSTEM_EQUIPMENT_INFORMATION))
        return frames
