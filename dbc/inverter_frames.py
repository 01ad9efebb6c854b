"""Typed frames of the SMA / Victron / Pylontech CAN-BMS protocol (dbc/inverter.dbc,
docs/PROTOCOLS.md section 4): what a battery inverter reads from the BMS, and its keep-alive."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from dbc.frames import Frame, Signals

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout

PYLON_MARKS = (ord("P"), ord("N"))


class AlarmState(enum.IntEnum):
    """Two bits per alarm in 0x35A (value tables of SmaAlarms)."""

    UNSUPPORTED = 0
    ACTIVE = 1
    OK = 2


ALARM_NAMES = ("General", "HighVoltage", "LowVoltage", "HighTemperature", "LowTemperature",
               "HighTemperatureCharge", "LowTemperatureCharge", "HighDischargeCurrent",
               "HighChargeCurrent", "Contactor", "ShortCircuit", "BmsInternal",
               "CellImbalance")
PYLON_FLAGS = ("HighVoltage", "LowVoltage", "HighTemperature", "LowTemperature",
               "DischargeOvercurrent", "ChargeOvercurrent", "SystemError")


@dataclass(frozen=True, slots=True)
class HvLimits:
    """The four limits as both HV protocols carry them (their frames name the signals alike:
    dbc/inverter_byd_hvs.dbc, dbc/inverter_pylon_hv.dbc); each protocol's frame names its
    message."""

    charge_voltage_v: float
    discharge_voltage_v: float
    charge_current_a: float  # magnitudes
    discharge_current_a: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ChargeVoltageLimit": layout.saturate("ChargeVoltageLimit", self.charge_voltage_v),
                "DischargeVoltageLimit": layout.saturate("DischargeVoltageLimit",
                                                         self.discharge_voltage_v),
                "ChargeCurrentLimit": layout.saturate("ChargeCurrentLimit", self.charge_current_a),
                "DischargeCurrentLimit": layout.saturate("DischargeCurrentLimit",
                                                         self.discharge_current_a)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["ChargeVoltageLimit"], 1),
                   round(signals["DischargeVoltageLimit"], 1),
                   round(signals["ChargeCurrentLimit"], 1),
                   round(signals["DischargeCurrentLimit"], 1))


@dataclass(frozen=True, slots=True)
class InverterLimits:
    MESSAGE: ClassVar[str] = "InverterLimits"
    charge_voltage_v: float
    charge_current_a: float
    discharge_current_a: float  # a magnitude; 0 disables discharge
    discharge_voltage_v: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ChargeVoltageLimit": layout.saturate("ChargeVoltageLimit", self.charge_voltage_v),
                "ChargeCurrentLimit": layout.saturate("ChargeCurrentLimit", self.charge_current_a),
                "DischargeCurrentLimit": layout.saturate("DischargeCurrentLimit",
                                                self.discharge_current_a),
                "DischargeVoltageLimit": layout.saturate("DischargeVoltageLimit",
                                                self.discharge_voltage_v)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["ChargeVoltageLimit"], 1), round(signals["ChargeCurrentLimit"], 1),
                   round(signals["DischargeCurrentLimit"], 1),
                   round(signals["DischargeVoltageLimit"], 1))


@dataclass(frozen=True, slots=True)
class InverterSoc:
    MESSAGE: ClassVar[str] = "InverterSoc"
    soc_pct: int
    soh_pct: int
    soc_fine_pct: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Soc": self.soc_pct, "Soh": self.soh_pct,
                "SocHighResolution": layout.saturate("SocHighResolution", self.soc_fine_pct)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["Soc"]), int(signals["Soh"]),
                   round(signals["SocHighResolution"], 2))


@dataclass(frozen=True, slots=True)
class InverterMeasurements:
    MESSAGE: ClassVar[str] = "InverterMeasurements"
    voltage_v: float
    current_a: float  # positive charges
    temperature_degc: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"BatteryVoltage": layout.saturate("BatteryVoltage", self.voltage_v),
                "BatteryCurrent": layout.saturate("BatteryCurrent", self.current_a),
                "BatteryTemperature": layout.saturate("BatteryTemperature",
                                             self.temperature_degc)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["BatteryVoltage"], 2), round(signals["BatteryCurrent"], 1),
                   round(signals["BatteryTemperature"], 1))


@dataclass(frozen=True, slots=True)
class PylonAlarms:
    """Protection (fatal) and warning flags by name (PYLON_FLAGS), and the count of packs in
    parallel (byte 4: a Pylontech sends its modules in parallel, Battery-Emulator's
    PYLON-LV-CAN sends 1; one BMS is one pack)."""

    MESSAGE: ClassVar[str] = "PylonAlarms"
    protections: frozenset[str]
    warnings: frozenset[str]
    packs: int  # byte 4: Pylontech-protocol inverters read the packs in parallel here

    def to_signals(self, layout: MessageLayout) -> Signals:
        signals: Signals = {"PackCount": self.packs, "PylonMark1": PYLON_MARKS[0],
                            "PylonMark2": PYLON_MARKS[1]}
        for flag in PYLON_FLAGS:
            signals[f"Protection{flag}"] = int(flag in self.protections)
            signals[f"Warning{flag}"] = int(flag in self.warnings)
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(frozenset(f for f in PYLON_FLAGS if signals[f"Protection{f}"]),
                   frozenset(f for f in PYLON_FLAGS if signals[f"Warning{f}"]),
                   int(signals["PackCount"]))


@dataclass(frozen=True, slots=True)
class SmaAlarms:
    """Every alarm and warning of ALARM_NAMES: active or OK (all are supported)."""

    MESSAGE: ClassVar[str] = "SmaAlarms"
    alarms: frozenset[str]
    warnings: frozenset[str]

    def to_signals(self, layout: MessageLayout) -> Signals:
        signals: Signals = {}
        for name in ALARM_NAMES:
            signals[f"{name}Alarm"] = int(AlarmState.ACTIVE if name in self.alarms
                                          else AlarmState.OK)
            signals[f"{name}Warning"] = int(AlarmState.ACTIVE if name in self.warnings
                                            else AlarmState.OK)
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(frozenset(n for n in ALARM_NAMES if signals[f"{n}Alarm"] == AlarmState.ACTIVE),
                   frozenset(n for n in ALARM_NAMES
                             if signals[f"{n}Warning"] == AlarmState.ACTIVE))


@dataclass(frozen=True, slots=True)
class PylonRequests:
    MESSAGE: ClassVar[str] = "PylonRequests"
    charge_enable: bool
    discharge_enable: bool
    force_charge: bool = False
    full_charge: bool = False

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ChargeEnable": int(self.charge_enable),
                "DischargeEnable": int(self.discharge_enable),
                "ForceCharge1": int(self.force_charge), "ForceCharge2": 0,
                "FullChargeRequest": int(self.full_charge)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(bool(signals["ChargeEnable"]), bool(signals["DischargeEnable"]),
                   bool(signals["ForceCharge1"]), bool(signals["FullChargeRequest"]))


def ascii_field(text: str, length: int) -> bytes:
    """Up to ``length`` ASCII characters padded with spaces, as a Pylontech pads its name
    (0x35E "PYLON   ": 50 59 4C 4F 4E 20 20 20, docs/PROTOCOLS.md section 4)."""
    return text.encode("ascii")[:length].ljust(length, b" ")


def ascii_text(raw: bytes) -> str:
    """The text of an ASCII field, without its padding (spaces or zeros)."""
    return raw.rstrip(b"\0 ").decode("ascii", errors="replace")


@dataclass(frozen=True, slots=True)
class Manufacturer:
    MESSAGE: ClassVar[str] = "Manufacturer"
    name: str  # up to 8 ASCII characters

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ManufacturerName": int.from_bytes(ascii_field(self.name, 8), "little")}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(ascii_text(int(signals["ManufacturerName"]).to_bytes(8, "little")))


@dataclass(frozen=True, slots=True)
class BatteryInfo:
    MESSAGE: ClassVar[str] = "BatteryInfo"
    chemistry: str  # two ASCII characters: LF, NM
    hardware_version: int
    capacity_ah: int
    software_version: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        code = int.from_bytes(self.chemistry.encode("ascii")[:2].ljust(2, b"\0"), "little")
        return {"Chemistry": code, "HardwareVersion": self.hardware_version,
                "CapacityAh": min(self.capacity_ah, 65535),
                "SoftwareVersion": self.software_version}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        chemistry = int(signals["Chemistry"]).to_bytes(2, "little").rstrip(b"\0")
        return cls(chemistry.decode("ascii", errors="replace"), int(signals["HardwareVersion"]),
                   int(signals["CapacityAh"]), int(signals["SoftwareVersion"]))


@dataclass(frozen=True, slots=True)
class InverterKeepAlive:
    MESSAGE: ClassVar[str] = "InverterKeepAlive"

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"KeepAlive": 0}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls()


INVERTER_FRAME_TYPES: tuple[type[Frame], ...] = (
    InverterLimits, InverterSoc, InverterMeasurements, PylonAlarms, SmaAlarms, PylonRequests,
    Manufacturer, BatteryInfo, InverterKeepAlive)
FRAME_TYPES = INVERTER_FRAME_TYPES  # what dbc.codec looks up by protocol
