"""Typed frames of the Isabellenhuette IVT-S current sensor (dbc/ivt_s.dbc, docs/PROTOCOLS.md 3).

One class per result message. The sensor has no E2E CRC; its own 4-bit message counter and
error flags are part of the frame. Sign convention of the project: positive current charges
the pack.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from dbc.frames import Frame, Signals

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout


class IvtFlag(enum.IntFlag):
    NONE = 0
    OVER_CURRENT = enum.auto()
    CHANNEL_ERROR = enum.auto()  # invalidates this value
    MEASUREMENT_ERROR = enum.auto()  # invalidates all values
    SYSTEM_ERROR = enum.auto()  # invalidates all values


_FLAG_SIGNALS: dict[IvtFlag, str] = {
    IvtFlag.OVER_CURRENT: "OverCurrent",
    IvtFlag.CHANNEL_ERROR: "ChannelError",
    IvtFlag.MEASUREMENT_ERROR: "MeasurementError",
    IvtFlag.SYSTEM_ERROR: "SystemError",
}
INVALIDATING_FLAGS = IvtFlag.CHANNEL_ERROR | IvtFlag.MEASUREMENT_ERROR | IvtFlag.SYSTEM_ERROR
# the same as plain ints for the per-frame checks: an enum flag operator runs as Python code
INVALIDATING_BITS = int(INVALIDATING_FLAGS)
OVER_CURRENT_BIT = int(IvtFlag.OVER_CURRENT)


@functools.cache
def _signal_names(quantity: str) -> tuple[str, str, str, tuple[tuple[int, str], ...]]:
    """The id, counter and value signals of a result message, and its flags' (bit, signal)."""
    return (f"IVT_ID_Result_{quantity}", f"IVT_MsgCount_Result_{quantity}",
            f"IVT_Result_{quantity}",
            tuple((int(flag), f"IVT_{name}_Result_{quantity}")
                  for flag, name in _FLAG_SIGNALS.items()))


class _IvtResult:
    """Shared conversion: every result message has id, counter, four flags and one value."""

    MESSAGE: ClassVar[str]
    QUANTITY: ClassVar[str]
    VALUE_FIELD: ClassVar[str]
    counter: int
    flags: IvtFlag

    @property
    def valid(self) -> bool:
        return not int(self.flags) & INVALIDATING_BITS

    def to_signals(self, layout: MessageLayout) -> Signals:
        id_name, count_name, value_name, flag_names = _signal_names(self.QUANTITY)
        (result_id,) = layout.choices(id_name)
        signals: Signals = {
            id_name: result_id,
            count_name: self.counter & 0x0F,
            value_name: getattr(self, self.VALUE_FIELD),
        }
        flags = int(self.flags)  # int arithmetic: a flag test costs a microsecond
        for bit, name in flag_names:
            signals[name] = 1 if flags & bit else 0
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        q = cls.QUANTITY
        flags = IvtFlag.NONE
        for flag, name in _FLAG_SIGNALS.items():
            if signals[f"IVT_{name}_Result_{q}"]:
                flags |= flag
        name = f"IVT_Result_{q}"
        value, decimals = signals[name], layout.decimals(name)
        if decimals:
            value = round(value, decimals)
        return cls(int(signals[f"IVT_MsgCount_Result_{q}"]), flags, value)  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class IvtCurrent(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_I"
    QUANTITY: ClassVar[str] = "I"
    VALUE_FIELD: ClassVar[str] = "current_ma"
    counter: int
    flags: IvtFlag
    current_ma: int


@dataclass(frozen=True, slots=True)
class IvtVoltage1(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_U1"
    QUANTITY: ClassVar[str] = "U1"
    VALUE_FIELD: ClassVar[str] = "voltage_mv"
    counter: int
    flags: IvtFlag
    voltage_mv: int


@dataclass(frozen=True, slots=True)
class IvtVoltage2(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_U2"
    QUANTITY: ClassVar[str] = "U2"
    VALUE_FIELD: ClassVar[str] = "voltage_mv"
    counter: int
    flags: IvtFlag
    voltage_mv: int


@dataclass(frozen=True, slots=True)
class IvtVoltage3(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_U3"
    QUANTITY: ClassVar[str] = "U3"
    VALUE_FIELD: ClassVar[str] = "voltage_mv"
    counter: int
    flags: IvtFlag
    voltage_mv: int


@dataclass(frozen=True, slots=True)
class IvtTemperature(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_T"
    QUANTITY: ClassVar[str] = "T"
    VALUE_FIELD: ClassVar[str] = "temperature_degc"
    counter: int
    flags: IvtFlag
    temperature_degc: float


@dataclass(frozen=True, slots=True)
class IvtPower(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_W"
    QUANTITY: ClassVar[str] = "W"
    VALUE_FIELD: ClassVar[str] = "power_w"
    counter: int
    flags: IvtFlag
    power_w: int


@dataclass(frozen=True, slots=True)
class IvtCharge(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_As"
    QUANTITY: ClassVar[str] = "As"
    VALUE_FIELD: ClassVar[str] = "charge_as"
    counter: int
    flags: IvtFlag
    charge_as: int


@dataclass(frozen=True, slots=True)
class IvtEnergy(_IvtResult):
    MESSAGE: ClassVar[str] = "IVT_Msg_Result_Wh"
    QUANTITY: ClassVar[str] = "Wh"
    VALUE_FIELD: ClassVar[str] = "energy_wh"
    counter: int
    flags: IvtFlag
    energy_wh: int


IVT_FRAME_TYPES: tuple[type[Frame], ...] = (
    IvtCurrent,
    IvtVoltage1,
    IvtVoltage2,
    IvtVoltage3,
    IvtTemperature,
    IvtPower,
    IvtCharge,
    IvtEnergy,
)
