"""Typed frames of Elcon / TC chargers (dbc/charger_elcon.dbc, docs/PROTOCOLS.md section 5).

The DBC describes the charger at address 0xE5; `command_id` and `status_id` give the ids of
another address, and `readdress` maps an id between addresses.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from dbc.frames import Frame, Signals

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout

DBC_ADDRESS = 0xE5
COMMAND_ID = 0x1806E5F4  # to the charger at DBC_ADDRESS, from the BMS (0xF4)
STATUS_ID = 0x18FF50E5  # from the charger at DBC_ADDRESS


def command_id(address: int) -> int:
    return (COMMAND_ID & ~0xFF00) | address << 8


def status_id(address: int) -> int:
    return (STATUS_ID & ~0xFF) | address


def readdress(arbitration_id: int, from_address: int, to_address: int) -> int:
    """The id of the same frame for a charger at another address (the DBC's is
    DBC_ADDRESS); ids of other frames are returned unchanged."""
    if arbitration_id == command_id(from_address):
        return command_id(to_address)
    if arbitration_id == status_id(from_address):
        return status_id(to_address)
    return arbitration_id


class ChargerFlag(enum.IntFlag):
    NONE = 0
    HARDWARE_FAILURE = enum.auto()
    OVER_TEMPERATURE = enum.auto()
    INPUT_VOLTAGE_WRONG = enum.auto()
    BATTERY_NOT_DETECTED = enum.auto()
    COMMUNICATION_TIMEOUT = enum.auto()


FLAG_SIGNALS: dict[ChargerFlag, str] = {
    ChargerFlag.HARDWARE_FAILURE: "HardwareFailure",
    ChargerFlag.OVER_TEMPERATURE: "OverTemperature",
    ChargerFlag.INPUT_VOLTAGE_WRONG: "InputVoltageWrong",
    ChargerFlag.BATTERY_NOT_DETECTED: "BatteryNotDetected",
    ChargerFlag.COMMUNICATION_TIMEOUT: "CommunicationTimeout",
}


@dataclass(frozen=True, slots=True)
class ElconCommand:
    MESSAGE: ClassVar[str] = "ElconCommand"
    max_voltage_v: float
    max_current_a: float
    start: bool

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MaxChargeVoltage": layout.saturate("MaxChargeVoltage", self.max_voltage_v),
                "MaxChargeCurrent": layout.saturate("MaxChargeCurrent", self.max_current_a),
                "Control": 0 if self.start else 1}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["MaxChargeVoltage"], 1), round(signals["MaxChargeCurrent"], 1),
                   int(signals["Control"]) == 0)


@dataclass(frozen=True, slots=True)
class ElconStatus:
    MESSAGE: ClassVar[str] = "ElconStatus"
    output_voltage_v: float
    output_current_a: float
    flags: ChargerFlag = ChargerFlag.NONE

    def to_signals(self, layout: MessageLayout) -> Signals:
        signals: Signals = {
            "OutputVoltage": layout.saturate("OutputVoltage", self.output_voltage_v),
            "OutputCurrent": layout.saturate("OutputCurrent", self.output_current_a)}
        for flag, name in FLAG_SIGNALS.items():
            signals[name] = int(bool(self.flags & flag))
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        flags = ChargerFlag.NONE
        for flag, name in FLAG_SIGNALS.items():
            if signals[name]:
                flags |= flag
        return cls(round(signals["OutputVoltage"], 1), round(signals["OutputCurrent"], 1),
                   flags)


CHARGER_FRAME_TYPES: tuple[type[Frame], ...] = (ElconCommand, ElconStatus)
