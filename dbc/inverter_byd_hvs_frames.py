"""Typed frames of the BYD Battery-Box Premium HVS protocol (dbc/inverter_byd_hvs.dbc,
docs/PROTOCOLS.md section 4b): what an HV inverter reads from a BYD battery, and what it sends.

The identity frames carry constants whose meaning nobody has published; both sources
(Battery-Emulator's BYD-CAN and SunshadeCorp's can-service) send the same bytes, and so do
these classes (their defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from dbc.frames import Frame, Signals
from dbc.inverter_frames import HvLimits

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout

TEXT_LENGTH = 7  # ASCII characters after the part byte
PRODUCT_NAME = ("Battery", "-Box Pr", "emium H", "VS")  # 0x3D0, parts 0..3
MANUFACTURER = "BYD"
VERSION_UNKNOWN2 = 0x0066
VERSION_UNKNOWN6 = 0x0209
BATTERY_INFO_UNKNOWN6 = 0x0308
UNKNOWN_290 = 0x063710D9


def _text_in(text: str) -> int:
    return int.from_bytes(text.encode("ascii")[:TEXT_LENGTH].ljust(TEXT_LENGTH, b"\0"), "big")


def _text_out(raw: Any) -> str:
    return int(raw).to_bytes(TEXT_LENGTH, "big").rstrip(b"\0").decode("ascii", errors="replace")


@dataclass(frozen=True, slots=True)
class BydLimits(HvLimits):
    MESSAGE: ClassVar[str] = "BydLimits"


@dataclass(frozen=True, slots=True)
class BydStates:
    MESSAGE: ClassVar[str] = "BydStates"
    soc_pct: float
    soh_pct: float
    remaining_capacity_ah: float
    full_capacity_ah: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Soc": layout.saturate("Soc", self.soc_pct),
                "Soh": layout.saturate("Soh", self.soh_pct),
                "RemainingCapacity": layout.saturate("RemainingCapacity",
                                                     self.remaining_capacity_ah),
                "FullCapacity": layout.saturate("FullCapacity", self.full_capacity_ah)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["Soc"], 2), round(signals["Soh"], 2),
                   round(signals["RemainingCapacity"], 1), round(signals["FullCapacity"], 1))


@dataclass(frozen=True, slots=True)
class BydBatteryInfo:
    MESSAGE: ClassVar[str] = "BydBatteryInfo"
    voltage_v: float
    current_a: float  # positive charges
    temperature_degc: float
    unknown6: int = BATTERY_INFO_UNKNOWN6

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"BatteryVoltage": layout.saturate("BatteryVoltage", self.voltage_v),
                "BatteryCurrent": layout.saturate("BatteryCurrent", self.current_a),
                "BatteryTemperature": layout.saturate("BatteryTemperature",
                                                      self.temperature_degc),
                "Unknown6": self.unknown6}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["BatteryVoltage"], 1), round(signals["BatteryCurrent"], 1),
                   round(signals["BatteryTemperature"], 1), int(signals["Unknown6"]))


@dataclass(frozen=True, slots=True)
class BydCellInfo:
    MESSAGE: ClassVar[str] = "BydCellInfo"
    max_temperature_degc: float
    min_temperature_degc: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MaxTemperature": layout.saturate("MaxTemperature", self.max_temperature_degc),
                "MinTemperature": layout.saturate("MinTemperature", self.min_temperature_degc)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["MaxTemperature"], 1), round(signals["MinTemperature"], 1))


@dataclass(frozen=True, slots=True)
class BydVersion:
    MESSAGE: ClassVar[str] = "BydVersion"
    capacity_kwh: float
    firmware_major: int = 3  # 3.22: SunshadeCorp's captured HVS
    firmware_minor: int = 0x16
    unknown2: int = VERSION_UNKNOWN2
    unknown6: int = VERSION_UNKNOWN6

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"FirmwareMajor": self.firmware_major, "FirmwareMinor": self.firmware_minor,
                "Unknown2": self.unknown2, "Capacity": layout.saturate("Capacity",
                                                                       self.capacity_kwh),
                "Unknown6": self.unknown6}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["Capacity"], 1), int(signals["FirmwareMajor"]),
                   int(signals["FirmwareMinor"]), int(signals["Unknown2"]),
                   int(signals["Unknown6"]))


@dataclass(frozen=True, slots=True)
class BydUnknown290:
    MESSAGE: ClassVar[str] = "BydUnknown290"
    unknown0: int = UNKNOWN_290

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Unknown0": self.unknown0}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["Unknown0"]))


@dataclass(frozen=True, slots=True)
class BydManufacturer:
    MESSAGE: ClassVar[str] = "BydManufacturer"
    name: str = MANUFACTURER
    part: int = 0

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Part": self.part, "Text": _text_in(self.name)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(_text_out(signals["Text"]), int(signals["Part"]))


@dataclass(frozen=True, slots=True)
class BydProductName:
    MESSAGE: ClassVar[str] = "BydProductName"
    part: int  # 0..3
    text: str  # up to 7 ASCII characters

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Part": self.part, "Text": _text_in(self.text)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["Part"]), _text_out(signals["Text"]))


def product_name_frames() -> tuple[BydProductName, ...]:
    """The four parts of 'Battery-Box Premium HVS'."""
    return tuple(BydProductName(part, text) for part, text in enumerate(PRODUCT_NAME))


@dataclass(frozen=True, slots=True)
class BydInverterIdentity:
    MESSAGE: ClassVar[str] = "BydInverterIdentity"
    identity_request: bool
    brand: str = ""

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"IdentityRequest": int(self.identity_request), "Brand": _text_in(self.brand)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(bool(signals["IdentityRequest"]), _text_out(signals["Brand"]))


@dataclass(frozen=True, slots=True)
class BydInverterMeasurements:
    MESSAGE: ClassVar[str] = "BydInverterMeasurements"
    voltage_v: float
    current_a: float
    temperature_degc: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Voltage": layout.saturate("Voltage", self.voltage_v),
                "Current": layout.saturate("Current", self.current_a),
                "Temperature": layout.saturate("Temperature", self.temperature_degc)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["Voltage"], 1), round(signals["Current"], 1),
                   round(signals["Temperature"], 1))


@dataclass(frozen=True, slots=True)
class BydInverterSoc:
    MESSAGE: ClassVar[str] = "BydInverterSoc"
    soc_pct: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Soc": layout.saturate("Soc", self.soc_pct)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["Soc"], 1))


@dataclass(frozen=True, slots=True)
class BydInverterTime:
    MESSAGE: ClassVar[str] = "BydInverterTime"
    unix_time_s: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"UnixTime": self.unix_time_s}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["UnixTime"]))


BYD_HVS_FRAME_TYPES: tuple[type[Frame], ...] = (
    BydLimits, BydStates, BydBatteryInfo, BydCellInfo, BydVersion, BydUnknown290,
    BydManufacturer, BydProductName, BydInverterIdentity, BydInverterMeasurements,
    BydInverterSoc, BydInverterTime)
FRAME_TYPES = BYD_HVS_FRAME_TYPES  # what dbc.codec looks up by protocol
