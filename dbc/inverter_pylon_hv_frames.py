"""Typed frames of the Pylontech HV CAN protocol (dbc/inverter_pylon_hv.dbc,
docs/PROTOCOLS.md section 4c): the inverter's request and the battery's answers.

Flags are named as the DBC's signals without their prefix (``Error``, ``Alarm``,
``Protection``); an alarm is a warning, a protection a fault.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from dbc.frames import Frame, Signals
from dbc.inverter_frames import HvLimits, ascii_text

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout

FORBIDDEN = 0xAA  # 0x4280: this mark forbids a direction, anything else allows it
NAME_LENGTH = 8


class PylonHvRequestKind(enum.IntEnum):
    """0x4200 byte 0 (value table Request)."""

    ENSEMBLE_INFORMATION = 0
    SYSTEM_EQUIPMENT_INFORMATION = 2


class PylonHvBasicStatus(enum.IntEnum):
    """0x4250 bits 0-2 (value table BasicStatus)."""

    SLEEP = 0
    CHARGE = 1
    DISCHARGE = 2
    IDLE = 3


ERRORS = ("VoltageSensor", "TemperatureSensor", "InternalCommunication", "InputOvervoltage",
          "InputReversal", "RelayCheck", "BatteryDamage", "Other")
ALARMS = ("CellLowVoltage", "CellHighVoltage", "DischargeLowVoltage", "ChargeHighVoltage",
          "ChargeLowTemperature", "ChargeHighTemperature", "DischargeLowTemperature",
          "DischargeHighTemperature", "ChargeOvercurrent", "DischargeOvercurrent",
          "ModuleLowVoltage", "ModuleHighVoltage")


def _name_in(name: str) -> int:
    """Eight ASCII characters padded with zeros, first in byte 0 (Battery-Emulator's
    PYLON-CAN sends 'PYLON' then zeros)."""
    return int.from_bytes(name.encode("ascii")[:NAME_LENGTH].ljust(NAME_LENGTH, b"\0"),
                          "little")


@dataclass(frozen=True, slots=True)
class PylonHvRequest:
    MESSAGE: ClassVar[str] = "PylonHvRequest"
    request: PylonHvRequestKind

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Request": int(self.request)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(PylonHvRequestKind(int(signals["Request"])))


@dataclass(frozen=True, slots=True)
class PylonHvStatus:
    MESSAGE: ClassVar[str] = "PylonHvStatus"
    voltage_v: float
    current_a: float  # positive charges
    temperature_degc: float
    soc_pct: int
    soh_pct: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"BatteryVoltage": layout.saturate("BatteryVoltage", self.voltage_v),
                "BatteryCurrent": layout.saturate("BatteryCurrent", self.current_a),
                "BmsTemperature": layout.saturate("BmsTemperature", self.temperature_degc),
                "Soc": self.soc_pct, "Soh": self.soh_pct}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["BatteryVoltage"], 1), round(signals["BatteryCurrent"], 1),
                   round(signals["BmsTemperature"], 1), int(signals["Soc"]), int(signals["Soh"]))


@dataclass(frozen=True, slots=True)
class PylonHvLimits(HvLimits):
    MESSAGE: ClassVar[str] = "PylonHvLimits"


@dataclass(frozen=True, slots=True)
class PylonHvCellVoltages:
    MESSAGE: ClassVar[str] = "PylonHvCellVoltages"
    max_cell_mv: int
    min_cell_mv: int
    max_cell: int  # cell numbers
    min_cell: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MaxCellVoltage": self.max_cell_mv, "MinCellVoltage": self.min_cell_mv,
                "MaxCellNumber": self.max_cell, "MinCellNumber": self.min_cell}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["MaxCellVoltage"]), int(signals["MinCellVoltage"]),
                   int(signals["MaxCellNumber"]), int(signals["MinCellNumber"]))


@dataclass(frozen=True, slots=True)
class PylonHvCellTemperatures:
    MESSAGE: ClassVar[str] = "PylonHvCellTemperatures"
    max_temperature_degc: float
    min_temperature_degc: float
    max_cell: int
    min_cell: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MaxCellTemperature": layout.saturate("MaxCellTemperature",
                                                      self.max_temperature_degc),
                "MinCellTemperature": layout.saturate("MinCellTemperature",
                                                      self.min_temperature_degc),
                "MaxTemperatureCellNumber": self.max_cell,
                "MinTemperatureCellNumber": self.min_cell}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["MaxCellTemperature"], 1),
                   round(signals["MinCellTemperature"], 1),
                   int(signals["MaxTemperatureCellNumber"]),
                   int(signals["MinTemperatureCellNumber"]))


@dataclass(frozen=True, slots=True)
class PylonHvAlarms:
    """The basic status and the error, alarm (warning) and protection (fault) flags by name
    (ERRORS, ALARMS)."""

    MESSAGE: ClassVar[str] = "PylonHvAlarms"
    status: PylonHvBasicStatus
    errors: frozenset[str] = frozenset()
    alarms: frozenset[str] = frozenset()
    protections: frozenset[str] = frozenset()
    force_charge: bool = False
    balance_charge: bool = False
    cycle_period: int = 0

    def to_signals(self, layout: MessageLayout) -> Signals:
        signals: Signals = {"BasicStatus": int(self.status),
                            "ForceChargeRequest": int(self.force_charge),
                            "BalanceChargeRequest": int(self.balance_charge),
                            "CyclePeriod": self.cycle_period}
        for name in ERRORS:
            signals[f"Error{name}"] = int(name in self.errors)
        for name in ALARMS:
            signals[f"Alarm{name}"] = int(name in self.alarms)
            signals[f"Protection{name}"] = int(name in self.protections)
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(PylonHvBasicStatus(int(signals["BasicStatus"])),
                   frozenset(n for n in ERRORS if signals[f"Error{n}"]),
                   frozenset(n for n in ALARMS if signals[f"Alarm{n}"]),
                   frozenset(n for n in ALARMS if signals[f"Protection{n}"]),
                   bool(signals["ForceChargeRequest"]), bool(signals["BalanceChargeRequest"]),
                   int(signals["CyclePeriod"]))


@dataclass(frozen=True, slots=True)
class PylonHvModuleVoltages:
    MESSAGE: ClassVar[str] = "PylonHvModuleVoltages"
    max_module_mv: int
    min_module_mv: int
    max_module: int
    min_module: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MaxModuleVoltage": self.max_module_mv, "MinModuleVoltage": self.min_module_mv,
                "MaxModuleNumber": self.max_module, "MinModuleNumber": self.min_module}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["MaxModuleVoltage"]), int(signals["MinModuleVoltage"]),
                   int(signals["MaxModuleNumber"]), int(signals["MinModuleNumber"]))


@dataclass(frozen=True, slots=True)
class PylonHvModuleTemperatures:
    MESSAGE: ClassVar[str] = "PylonHvModuleTemperatures"
    max_temperature_degc: float
    min_temperature_degc: float
    max_module: int
    min_module: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MaxModuleTemperature": layout.saturate("MaxModuleTemperature",
                                                        self.max_temperature_degc),
                "MinModuleTemperature": layout.saturate("MinModuleTemperature",
                                                        self.min_temperature_degc),
                "MaxTemperatureModuleNumber": self.max_module,
                "MinTemperatureModuleNumber": self.min_module}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["MaxModuleTemperature"], 1),
                   round(signals["MinModuleTemperature"], 1),
                   int(signals["MaxTemperatureModuleNumber"]),
                   int(signals["MinTemperatureModuleNumber"]))


@dataclass(frozen=True, slots=True)
class PylonHvForbidden:
    MESSAGE: ClassVar[str] = "PylonHvForbidden"
    charge_forbidden: bool
    discharge_forbidden: bool

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ChargeForbidden": FORBIDDEN if self.charge_forbidden else 0,
                "DischargeForbidden": FORBIDDEN if self.discharge_forbidden else 0}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["ChargeForbidden"]) == FORBIDDEN,
                   int(signals["DischargeForbidden"]) == FORBIDDEN)


@dataclass(frozen=True, slots=True)
class PylonHvFaultExtension:
    MESSAGE: ClassVar[str] = "PylonHvFaultExtension"
    flags: int = 0

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"FaultExtension": self.flags}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["FaultExtension"]))


@dataclass(frozen=True, slots=True)
class PylonHvVersion:
    MESSAGE: ClassVar[str] = "PylonHvVersion"
    hardware_version: int = 1
    hardware_major: int = 1
    hardware_minor: int = 0
    software_major: int = 1
    software_minor: int = 0
    software_development_major: int = 0
    software_development_minor: int = 0

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"HardwareVersion": self.hardware_version, "HardwareMajor": self.hardware_major,
                "HardwareMinor": self.hardware_minor, "SoftwareMajor": self.software_major,
                "SoftwareMinor": self.software_minor,
                "SoftwareDevelopmentMajor": self.software_development_major,
                "SoftwareDevelopmentMinor": self.software_development_minor}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(*(int(signals[n]) for n in (
            "HardwareVersion", "HardwareMajor", "HardwareMinor", "SoftwareMajor",
            "SoftwareMinor", "SoftwareDevelopmentMajor", "SoftwareDevelopmentMinor")))


@dataclass(frozen=True, slots=True)
class PylonHvModules:
    MESSAGE: ClassVar[str] = "PylonHvModules"
    cells: int  # in series, over all modules
    modules_in_series: int
    cells_per_module: int
    voltage_level_v: int
    capacity_ah: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"CellCount": self.cells, "ModulesInSeries": self.modules_in_series,
                "CellsPerModule": self.cells_per_module, "VoltageLevel": self.voltage_level_v,
                "CapacityAh": min(self.capacity_ah, 65535)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["CellCount"]), int(signals["ModulesInSeries"]),
                   int(signals["CellsPerModule"]), int(signals["VoltageLevel"]),
                   int(signals["CapacityAh"]))


@dataclass(frozen=True, slots=True)
class PylonHvManufacturer:
    """Characters 1-8 of the manufacturer's name (0x7330)."""

    MESSAGE: ClassVar[str] = "PylonHvManufacturer"
    name: str

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Name": _name_in(self.name)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(ascii_text(int(signals["Name"]).to_bytes(NAME_LENGTH, "little")))


@dataclass(frozen=True, slots=True)
class PylonHvManufacturer2:
    """Characters 9-16 of the manufacturer's name (0x7340)."""

    MESSAGE: ClassVar[str] = "PylonHvManufacturer2"
    name: str = ""

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Name": _name_in(self.name)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(ascii_text(int(signals["Name"]).to_bytes(NAME_LENGTH, "little")))


PYLON_HV_FRAME_TYPES: tuple[type[Frame], ...] = (
    PylonHvRequest, PylonHvStatus, PylonHvLimits, PylonHvCellVoltages, PylonHvCellTemperatures,
    PylonHvAlarms, PylonHvModuleVoltages, PylonHvModuleTemperatures, PylonHvForbidden,
    PylonHvFaultExtension, PylonHvVersion, PylonHvModules, PylonHvManufacturer,
    PylonHvManufacturer2)
FRAME_TYPES = PYLON_HV_FRAME_TYPES  # what dbc.codec looks up by protocol
