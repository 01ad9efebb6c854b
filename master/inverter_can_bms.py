"""The battery side of the SMA / Victron / Pylontech LV CAN-BMS protocol (docs/PROTOCOLS.md
section 4), the 48 V class.

Every second the inverter gets the limits (0x351), SOC/SOH (0x355), the pack's values
(0x356), Pylontech and SMA alarms (0x359, 0x35A), charge/discharge requests (0x35C), the
manufacturer (0x35E) and the battery's description (0x35F). Practices kept:
- the charge voltage limit is never 0 (some inverters read 0 as "no limit"): it is the pack
  at the cells' operating over-voltage limit, and a refused charge is a charge current of 0;
- the discharge voltage limit is the pack at the operating under-voltage limit;
- a fatal fault or a state that does not allow a direction sends 0 A and clears its
  request flag, so an inverter that ignores one still obeys the other;
- every limit within what a Sunny Island accepts (41-63 V, 41-48 V, 120 A; it drops values
  beyond them), Victron's range being wider;
- 0x359 byte 4 is the count of packs in parallel (1), as Pylontech-protocol inverters read it.
The inverter's 0x305 keep-alive is watched (the base class).
"""

from __future__ import annotations

from bms.endpoint_settings import EndpointSettings
from bms.timing import Schedule
from dbc.frames import Frame
from dbc.inverter_frames import (
    BatteryInfo,
    InverterLimits,
    InverterMeasurements,
    InverterSoc,
    Manufacturer,
    PylonAlarms,
    PylonRequests,
    SmaAlarms,
)
from master.diagnosis.table import DiagId
from master.inverter_endpoint import (
    HARDWARE_VERSION,
    SOFTWARE_VERSION,
    AcceptedRange,
    InverterEndpoint,
    InverterInputs,
    PackDescription,
)

CHEMISTRY_CODES = {"nmc": "NM", "lfp": "LF"}
PERIOD_S = 1.0  # dbc/inverter.dbc GenMsgCycleTime of every message
PACKS_IN_PARALLEL = 1  # one BMS is one pack (0x359 byte 4)

# SMA "Technical Information: Connecting batteries with external BMS to Sunny Island"
# (FSS-ConnectingBat-TI-en-10, 0x351) and Battery-Emulator SMA-LV-CAN.cpp's comments (MIN 41 V
# MAX 63 V; 0..1200 x 0.1 A; discharge voltage 41..48 V): a Sunny Island drops other values
CAN_BMS_ACCEPTED = AcceptedRange("48 V class", charge_voltage_v=(41.0, 63.0),
                                 discharge_voltage_v=(41.0, 48.0), current_max_a=120.0)

# every diagnosis entry maps onto one SMA alarm (0x35A) and one Pylontech flag (0x359)
_SMA_BY_PREFIX = (
    ("CELL_OVERVOLTAGE", "HighVoltage"), ("CELL_UNDERVOLTAGE", "LowVoltage"),
    ("DEEP_DISCHARGE", "LowVoltage"), ("DISCHARGE_OVERTEMPERATURE", "HighTemperature"),
    ("DISCHARGE_UNDERTEMPERATURE", "LowTemperature"),
    ("CHARGE_OVERTEMPERATURE", "HighTemperatureCharge"),
    ("CHARGE_UNDERTEMPERATURE", "LowTemperatureCharge"),
    ("DISCHARGE_OVERCURRENT", "HighDischargeCurrent"),
    ("CHARGE_OVERCURRENT", "HighChargeCurrent"), ("CONTACTOR", "Contactor"),
    ("PRECHARGE", "Contactor"), ("FUSE", "ShortCircuit"), ("CELL_VOLTAGE_SPREAD", "CellImbalance"),
    ("INVERTER", "General"), ("CHARGER", "General"),
)
_PYLON_BY_SMA = {
    "HighVoltage": "HighVoltage", "LowVoltage": "LowVoltage",
    "HighTemperature": "HighTemperature", "HighTemperatureCharge": "HighTemperature",
    "LowTemperature": "LowTemperature", "LowTemperatureCharge": "LowTemperature",
    "HighDischargeCurrent": "DischargeOvercurrent", "HighChargeCurrent": "ChargeOvercurrent",
}


def sma_alarm(entry: DiagId) -> str:
    """The SMA alarm of a diagnosis entry; anything unnamed is the BMS's own problem."""
    for prefix, alarm in _SMA_BY_PREFIX:
        if entry.name.startswith(prefix):
            return alarm
    return "BmsInternal"


def pylon_flag(entry: DiagId) -> str:
    return _PYLON_BY_SMA.get(sma_alarm(entry), "SystemError")


class CanBmsEndpoint(InverterEndpoint):
    PROTOCOL = "can_bms"
    ACCEPTED = CAN_BMS_ACCEPTED

    def __init__(self, settings: EndpointSettings, pack: PackDescription, now_s: float) -> None:
        super().__init__(settings, pack, now_s)
        self.info = BatteryInfo(CHEMISTRY_CODES.get(pack.chemistry, "LI"), HARDWARE_VERSION,
                                round(pack.capacity_ah), SOFTWARE_VERSION)
        self.manufacturer = Manufacturer(settings.manufacturer)
        self._schedule = Schedule(PERIOD_S, now_s)

    def due(self, now_s: float) -> bool:
        return now_s >= self._schedule.next_s - PERIOD_S * 1e-6

    def limits_frame(self, inputs: InverterInputs) -> Frame | None:
        limits = self.clamped(inputs)
        return InverterLimits(limits.charge_voltage_v, limits.charge_current_a,
                              limits.discharge_current_a, limits.discharge_voltage_v)

    def frames(self, inputs: InverterInputs, now_s: float) -> list[Frame]:
        if not self._schedule.due(now_s):
            return []
        limits = self.clamped(inputs)
        sma_alarms = frozenset(sma_alarm(e) for e in inputs.fatal)
        if inputs.fatal:
            sma_alarms |= {"General"}
        return [
            InverterLimits(limits.charge_voltage_v, limits.charge_current_a,
                           limits.discharge_current_a, limits.discharge_voltage_v),
            InverterSoc(round(inputs.soc_pct), round(inputs.soh_pct), inputs.soc_pct),
            InverterMeasurements(inputs.voltage_v, inputs.current_a,
                                 inputs.max_temperature_degc),
            PylonAlarms(frozenset(pylon_flag(e) for e in inputs.fatal),
                        frozenset(pylon_flag(e) for e in inputs.warnings), PACKS_IN_PARALLEL),
            SmaAlarms(sma_alarms, frozenset(sma_alarm(e) for e in inputs.warnings)),
            PylonRequests(charge_enable=limits.charge_current_a > 0,
                          discharge_enable=limits.discharge_current_a > 0),
            self.manufacturer,
            self.info,
        ]
