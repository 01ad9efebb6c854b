"""The inverter side of BYD Battery-Box Premium HVS (docs/PROTOCOLS.md section 4b): an HV
hybrid inverter that asks for the battery's identity and follows 0x110.

At its start, and every ``IDENTITY_RETRY_S`` until it has it, it asks (0x151 byte 0 bit 0)
for the identity; it moves no current before 0x2D0 says "BYD" and 0x3D0's four parts say
"Battery-Box Premium HVS". Every ``keep_alive_period_s`` it sends its name (0x151), its
view of the battery (0x091: voltage, current, temperature; 0x0D1: SOC) and its clock
(0x111). The protocol has no enable flags: a limit of 0 A refuses that direction.
"""

from __future__ import annotations

from bms.settings import Settings
from dbc.frames import Frame
from dbc.inverter_byd_hvs_frames import (
    MANUFACTURER,
    PRODUCT_NAME,
    BydBatteryInfo,
    BydInverterIdentity,
    BydInverterMeasurements,
    BydInverterSoc,
    BydInverterTime,
    BydLimits,
    BydManufacturer,
    BydProductName,
    BydStates,
)
from master.inverter_byd_hvs import BYD_HVS_ACCEPTED, LIMITS_PERIOD_S
from sim.inverter import InverterSim, SeenLimits

IDENTITY_RETRY_S = 10.0
BRAND = "SIM-INV"  # 0x151 bytes 1-7: the inverter's name
CLOCK_ORIGIN_S = 1_767_225_600  # 2026-01-01 UTC: the simulated inverter's clock at its start


class BydHvsInverterSim(InverterSim):
    PROTOCOL = "byd_hvs"
    ACCEPTED = BYD_HVS_ACCEPTED
    LIMITS_PERIOD_S = LIMITS_PERIOD_S

    def __init__(self, settings: Settings, now_s: float) -> None:
        super().__init__(settings, now_s)
        self.manufacturer = ""
        self.product_parts: dict[int, str] = {}
        self.identity_requests = 0
        self._asked_s: float | None = None
        self.battery_voltage_v = 0.0
        self.battery_temperature_degc = 0.0
        self.battery_soc_pct = 0.0

    def ready(self) -> bool:
        name = "".join(self.product_parts.get(part, "") for part in range(len(PRODUCT_NAME)))
        return self.manufacturer == MANUFACTURER and name == "".join(PRODUCT_NAME)

    def on_decoded(self, frame: Frame, now_s: float) -> None:
        if isinstance(frame, BydLimits):
            self.take_limits(SeenLimits(frame.charge_current_a, frame.discharge_current_a,
                                        frame.charge_voltage_v, frame.discharge_voltage_v),
                             now_s)
        elif isinstance(frame, BydManufacturer):
            self.manufacturer = frame.name
        elif isinstance(frame, BydProductName):
            self.product_parts[frame.part] = frame.text
        elif isinstance(frame, BydBatteryInfo):
            self.battery_voltage_v = frame.voltage_v
            self.battery_temperature_degc = frame.temperature_degc
        elif isinstance(frame, BydStates):
            self.battery_soc_pct = frame.soc_pct

    def own_frames(self, now_s: float) -> list[Frame]:
        ask = not self.ready() and (self._asked_s is None or
                                    now_s - self._asked_s >= IDENTITY_RETRY_S)
        if ask:
            self._asked_s = now_s
            self.identity_requests += 1
        return [
            BydInverterIdentity(identity_request=ask, brand="" if ask else BRAND),
            BydInverterMeasurements(self.battery_voltage_v, self.current_a,
                                    self.battery_temperature_degc),
            BydInverterSoc(self.battery_soc_pct),
            BydInverterTime(CLOCK_ORIGIN_S + round(now_s - self.started_s)),
        ]
