"""The battery side of the SMA / Victron / Pylontech CAN-BMS protocol (docs/PROTOCOLS.md section 4).

Every second the inverter gets the limits (0x351), SOC/SOH (0x355), the pack's values
(0x356), Pylontech and SMA alarms (0x359, 0x35A), charge/discharge requests (0x35C), the
manufacturer (0x35E) and the battery's description (0x35F). Practices kept:
- the charge voltage limit is never 0 (some inverters read 0 as "no limit"): it is the pack
  at the cells' operating over-voltage limit, and a refused charge is a charge current of 0;
- the discharge voltage limit is the pack at the operating under-voltage limit;
- a fatal fault or a state that does not allow a direction sends 0 A and clears its
  request flag, so an inverter that ignores one still obeys the other.
The inverter's 0x305 keep-alive is watched: silence longer than the configured timeout is
a warning (INVERTER_LOST). Pure: the core feeds it and sends what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bms.endpoint_settings import EndpointSettings
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

PCT: Final = 100.0
HARDWARE_VERSION: Final = 1
SOFTWARE_VERSION: Final = 1
CHEMISTRY_CODES = {"nmc": "NM", "lfp": "LF"}

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


@dataclass(frozen=True)
class InverterInputs:
    charge_allowed: bool  # the state allows charging now (contactors closed, no fatal)
    discharge_allowed: bool
    charge_limit_a: float  # the power limits (SOF)
    discharge_limit_a: float
    voltage_v: float
    current_a: float  # positive charges
    max_temperature_degc: float
    soc_pct: float
    soh_pct: float
    fatal: tuple[DiagId, ...]
    warnings: tuple[DiagId, ...]


class InverterEndpoint:
    def __init__(self, settings: EndpointSettings, cells: int, modules: int, chemistry: str,
                 capacity_ah: float, overvoltage_operating_mv: float,
                 undervoltage_operating_mv: float, now_s: float) -> None:
        self.settings = settings
        self.modules = modules
        self.charge_voltage_v = cells * overvoltage_operating_mv / 1000
        self.discharge_voltage_v = cells * undervoltage_operating_mv / 1000
        self.info = BatteryInfo(CHEMISTRY_CODES.get(chemistry, "LI"), HARDWARE_VERSION,
                                round(capacity_ah), SOFTWARE_VERSION)
        self.manufacturer = Manufacturer(settings.manufacturer)
        self.started_s = now_s
        self.keep_alive_at_s: float | None = None

    def on_keep_alive(self, now_s: float) -> None:
        self.keep_alive_at_s = now_s

    def lost(self, now_s: float) -> bool:
        timeout = self.settings.inverter_timeout_s
        if timeout == 0:
            return False
        last = self.keep_alive_at_s if self.keep_alive_at_s is not None else self.started_s
        return now_s - last > timeout

    def frames(self, inputs: InverterInputs) -> list[Frame]:
        charge_a = inputs.charge_limit_a if inputs.charge_allowed else 0.0
        discharge_a = inputs.discharge_limit_a if inputs.discharge_allowed else 0.0
        sma_alarms = frozenset(sma_alarm(e) for e in inputs.fatal)
        if inputs.fatal:
            sma_alarms |= {"General"}
        return [
            InverterLimits(self.charge_voltage_v, max(0.0, charge_a), max(0.0, discharge_a),
                           self.discharge_voltage_v),
            InverterSoc(round(inputs.soc_pct), round(inputs.soh_pct), inputs.soc_pct),
            InverterMeasurements(inputs.voltage_v, inputs.current_a,
                                 inputs.max_temperature_degc),
            PylonAlarms(frozenset(pylon_flag(e) for e in inputs.fatal),
                        frozenset(pylon_flag(e) for e in inputs.warnings), self.modules),
            SmaAlarms(sma_alarms, frozenset(sma_alarm(e) for e in inputs.warnings)),
            PylonRequests(charge_enable=charge_a > 0, discharge_enable=discharge_a > 0),
            self.manufacturer,
            self.info,
        ]
