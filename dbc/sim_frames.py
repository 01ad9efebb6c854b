"""Typed frames of the simulation bus (dbc/sim.dbc): plant coupling and fault injection.

A real pack has no such bus; nothing here is ever part of the production frames.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from dbc.frames import Frame, Signals

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout


class CellQuantity(enum.IntEnum):
    VOLTAGE = 0
    TEMPERATURE = 1
    CLEAR = 2
    INVALID = 3  # the cell reads invalid (open wire)


class SlaveFault(enum.IntEnum):
    RESUME = 0
    STOP = 1  # stops sending, the process stays
    FREEZE = 2  # keeps sending its last readings
    KILL = 3  # the process dies
    BAD_CRC = 4
    STUCK_COUNTER = 5
    AFE_FAULT = 6  # the slave reports an AFE communication fault
    ALTERNATE = 7  # forced readings only in every other measurement: a forger between frames
    NOISY_REPLAY = 8  # its readings of the moment it began, with fresh noise: no current seen


class SensorFault(enum.IntEnum):
    RESUME = 0
    SILENCE = 1
    FLAG_OVER_CURRENT = 2
    FLAG_CHANNEL_ERROR = 3
    FLAG_SYSTEM_ERROR = 4
    OFFSET_VOLTAGE = 5  # U1 reads this much off


class ContactorId(enum.IntEnum):
    MAIN_PLUS = 0
    MAIN_MINUS = 1
    PRECHARGE = 2


class ContactorFault(enum.IntEnum):
    NONE = 0
    WELDED = 1
    FAILS_TO_CLOSE = 2


class VcuCommandRequest(enum.IntEnum):
    KEEP = 0
    STANDBY = 1
    DRIVE = 2
    CHARGE = 3


@dataclass(frozen=True, slots=True)
class InjectCell:
    MESSAGE: ClassVar[str] = "SimInjectCell"
    module: int
    cell: int  # a cell for a voltage, a sensor for a temperature
    quantity: CellQuantity
    value: float = 0.0  # mV or degC, by quantity
    duration_s: float = 0.0  # 0: until cleared

    def to_signals(self, layout: MessageLayout) -> Signals:
        signals: Signals = {"Module": self.module, "Cell": self.cell,
                            "Quantity": int(self.quantity), "Duration": self.duration_s}
        if self.quantity is CellQuantity.VOLTAGE:
            signals["ForcedVoltage"] = self.value
        elif self.quantity is CellQuantity.TEMPERATURE:
            signals["ForcedTemperature"] = self.value
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        quantity = CellQuantity(signals["Quantity"])
        value = signals.get("ForcedVoltage", signals.get("ForcedTemperature", 0.0))
        return cls(int(signals["Module"]), int(signals["Cell"]), quantity,
                   round(float(value), 1), round(float(signals["Duration"]), 1))


@dataclass(frozen=True, slots=True)
class InjectSlave:
    MESSAGE: ClassVar[str] = "SimInjectSlave"
    module: int
    action: SlaveFault
    duration_s: float = 0.0

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Module": self.module, "Action": int(self.action), "Duration": self.duration_s}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["Module"]), SlaveFault(signals["Action"]),
                   round(float(signals["Duration"]), 1))


@dataclass(frozen=True, slots=True)
class InjectSensor:
    MESSAGE: ClassVar[str] = "SimInjectSensor"
    action: SensorFault
    duration_s: float = 0.0
    voltage_offset_v: float = 0.0  # with OFFSET_VOLTAGE

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Action": int(self.action), "Duration": self.duration_s,
                "VoltageOffset": self.voltage_offset_v}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(SensorFault(signals["Action"]), round(float(signals["Duration"]), 1),
                   round(float(signals["VoltageOffset"]), 1))


@dataclass(frozen=True, slots=True)
class InjectContactor:
    MESSAGE: ClassVar[str] = "SimInjectContactor"
    contactor: ContactorId
    fault: ContactorFault
    duration_s: float = 0.0

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Contactor": int(self.contactor), "Fault": int(self.fault),
                "Duration": self.duration_s}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(ContactorId(signals["Contactor"]), ContactorFault(signals["Fault"]),
                   round(float(signals["Duration"]), 1))


@dataclass(frozen=True, slots=True)
class InjectCurrent:
    MESSAGE: ClassVar[str] = "SimInjectCurrent"
    current_a: float
    duration_s: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Current": self.current_a, "Duration": self.duration_s}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(float(signals["Current"]), 2), round(float(signals["Duration"]), 1))


@dataclass(frozen=True, slots=True)
class VcuCommand:
    MESSAGE: ClassVar[str] = "SimVcuCommand"
    request: VcuCommandRequest = VcuCommandRequest.KEEP
    reset_faults: bool = False
    service_reset: bool = False
    silence_heartbeat_s: float = 0.0

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Request": int(self.request), "ResetFaults": int(self.reset_faults),
                "ServiceReset": int(self.service_reset),
                "SilenceHeartbeat": self.silence_heartbeat_s}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(VcuCommandRequest(signals["Request"]), bool(signals["ResetFaults"]),
                   bool(signals["ServiceReset"]),
                   round(float(signals["SilenceHeartbeat"]), 1))


@dataclass(frozen=True, slots=True)
class LoadDemand:
    MESSAGE: ClassVar[str] = "SimLoadDemand"
    current_a: float  # positive charges the pack

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"DemandCurrent": self.current_a}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(float(signals["DemandCurrent"]), 2))


@dataclass(frozen=True, slots=True)
class InjectCharger:
    MESSAGE: ClassVar[str] = "SimInjectCharger"
    flags: int  # ChargerFlag bits; 0 clears
    duration_s: float = 0.0  # 0: until cleared

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"Flags": self.flags, "Duration": self.duration_s}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["Flags"]), round(float(signals["Duration"]), 1))


@dataclass(frozen=True, slots=True)
class ChargerOutput:
    MESSAGE: ClassVar[str] = "SimChargerOutput"
    current_a: float  # positive charges the pack

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ChargerCurrent": self.current_a}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(float(signals["ChargerCurrent"]), 2))


@dataclass(frozen=True, slots=True)
class InverterOutput:
    MESSAGE: ClassVar[str] = "SimInverterOutput"
    current_a: float  # positive charges the pack

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"InverterCurrent": self.current_a}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(float(signals["InverterCurrent"]), 2))


SIM_FRAME_TYPES: tuple[type[Frame], ...] = (
    InjectCell, InjectSlave, InjectSensor, InjectContactor, InjectCurrent, VcuCommand,
    LoadDemand, InjectCharger, ChargerOutput, InverterOutput,
)
