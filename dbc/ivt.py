"""Typed frames of the Isabellenhuette IVT-S current sensor (dbc/ivt_s.dbc, docs/PROTOCOLS.md 3).

One class per result message. The sensor has no E2E CRC; its own 4-bit message counter and
error flags are part of the frame. Sign convention of the project: positive current charges
the pack.

The commands that configure it (0x411) and its replies (0x511): one class per command, the
reply to it a subclass with the same fields (the sensor echoes what it now has), and the
refusal. A page's multiplexer value is looked up by its name in the DBC's value table.
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


# --- configuring the sensor: commands (0x411) and replies (0x511) -----------------------------


class IvtQuantity(enum.Enum):
    """The eight results, by the suffix of their signals (result ids 0..7, in this order)."""

    I = "I"  # noqa: E741 - the sensor's own name of the current result
    U1 = "U1"
    U2 = "U2"
    U3 = "U3"
    T = "T"
    W = "W"
    AS = "As"
    WH = "Wh"


class IvtTrigger(enum.IntEnum):
    """When the sensor sends a result (value table of ``IVT_Conf_TriggerMode_*``)."""

    DISABLED = 0
    TRIGGERED = 1
    CYCLIC = 2


def page_named(layout: MessageLayout, label: str) -> int:
    """The multiplexer value that the DBC's value table of the multiplexer names ``label``."""
    try:
        return _pages_by_label(layout)[label]
    except KeyError:
        raise ValueError(f"{layout.name} has no page {label}") from None


@functools.cache
def _pages_by_label(layout: MessageLayout) -> dict[str, int]:
    return {label: raw for raw, label in layout.choices(str(layout.multiplexer)).items()}


def _config_label(quantity: IvtQuantity) -> str:
    return f"ConfigResult{quantity.value}"


@functools.cache
def _quantities_by_page(layout: MessageLayout) -> dict[int, IvtQuantity]:
    return {page_named(layout, _config_label(q)): q for q in IvtQuantity}


class _IvtPage:
    """A page of the command or the reply message, named ``LABEL`` in the DBC."""

    __slots__ = ()
    MESSAGE: ClassVar[str]
    LABEL: ClassVar[str]

    @classmethod
    def page(cls, layout: MessageLayout) -> int:
        return page_named(layout, cls.LABEL)

    def command_id(self, layout: MessageLayout) -> int:
        """Byte 0: this command's id (or, of a reply, the reply's id)."""
        return self.page(layout)


@dataclass(frozen=True, slots=True)
class IvtResultConfig:
    """Configure one result: trigger mode, period, byte order of its value and sign
    (command 0x20 + result id). The sensor takes it only while stopped (docs/PROTOCOLS.md)."""

    MESSAGE: ClassVar[str] = "IVT_Msg_Command"
    quantity: IvtQuantity
    trigger: IvtTrigger
    period_ms: int
    little_endian: bool = False  # False: big-endian, what ivt_s.dbc decodes
    sign_inverted: bool = False

    @classmethod
    def pages(cls, layout: MessageLayout) -> tuple[int, ...]:
        """Every result's page: one class for the eight of them."""
        return tuple(page_named(layout, _config_label(q)) for q in IvtQuantity)

    def command_id(self, layout: MessageLayout) -> int:
        return page_named(layout, _config_label(self.quantity))

    def to_signals(self, layout: MessageLayout) -> Signals:
        q = self.quantity.value
        return {
            str(layout.multiplexer): self.command_id(layout),
            f"IVT_Conf_TriggerMode_{q}": int(self.trigger),
            f"IVT_Conf_LittleEndian_{q}": int(self.little_endian),
            f"IVT_Conf_SignInverted_{q}": int(self.sign_inverted),
            f"IVT_Conf_CycleTime_{q}": self.period_ms,
        }

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        quantity = _quantities_by_page(layout)[int(signals[str(layout.multiplexer)])]
        q = quantity.value
        return cls(quantity, IvtTrigger(signals[f"IVT_Conf_TriggerMode_{q}"]),
                   int(signals[f"IVT_Conf_CycleTime_{q}"]),
                   bool(signals[f"IVT_Conf_LittleEndian_{q}"]),
                   bool(signals[f"IVT_Conf_SignInverted_{q}"]))


@dataclass(frozen=True, slots=True)
class IvtStore(_IvtPage):
    """Store the configuration in the sensor's non-volatile memory (command 0x32)."""

    MESSAGE: ClassVar[str] = "IVT_Msg_Command"
    LABEL: ClassVar[str] = "Store"

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {str(layout.multiplexer): self.page(layout), "IVT_Store_Reserved": 0}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls()


@dataclass(frozen=True, slots=True)
class IvtSetMode(_IvtPage):
    """Stop or run the sensor now, and whether it runs after power-up (command 0x34)."""

    MESSAGE: ClassVar[str] = "IVT_Msg_Command"
    LABEL: ClassVar[str] = "SetMode"
    run: bool
    run_at_startup: bool = True

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {str(layout.multiplexer): self.page(layout), "IVT_Mode_Run": int(self.run),
                "IVT_Mode_RunAtStartup": int(self.run_at_startup)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(bool(signals["IVT_Mode_Run"]), bool(signals["IVT_Mode_RunAtStartup"]))


@dataclass(frozen=True, slots=True)
class IvtResultConfigReply(IvtResultConfig):
    """The sensor's configuration of one result, in reply to `IvtResultConfig` (0xA0 + n)."""

    MESSAGE: ClassVar[str] = "IVT_Msg_Response"


@dataclass(frozen=True, slots=True)
class IvtStoreReply(IvtStore):
    """The configuration was stored (0xB2)."""

    MESSAGE: ClassVar[str] = "IVT_Msg_Response"


@dataclass(frozen=True, slots=True)
class IvtModeReply(IvtSetMode):
    """The sensor's mode now, in reply to `IvtSetMode` (0xB4)."""

    MESSAGE: ClassVar[str] = "IVT_Msg_Response"


@dataclass(frozen=True, slots=True)
class IvtCommandRefused(_IvtPage):
    """The sensor refused a command (0xFF): not known, or not now."""

    MESSAGE: ClassVar[str] = "IVT_Msg_Response"
    LABEL: ClassVar[str] = "Refused"
    refused_id: int  # the command id it refused

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {str(layout.multiplexer): self.page(layout),
                "IVT_Refused_Command": self.refused_id}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["IVT_Refused_Command"]))


IvtCommand = IvtResultConfig | IvtStore | IvtSetMode
IvtReply = IvtResultConfigReply | IvtStoreReply | IvtModeReply | IvtCommandRefused
IVT_REPLY_TYPES: tuple[type[Frame], ...] = (
    IvtResultConfigReply, IvtStoreReply, IvtModeReply, IvtCommandRefused)


def echo_of(command: IvtCommand) -> IvtReply:
    """The reply of a sensor that has taken ``command``: its fields, as the reply."""
    if isinstance(command, IvtResultConfig):
        return IvtResultConfigReply(command.quantity, command.trigger, command.period_ms,
                                    command.little_endian, command.sign_inverted)
    if isinstance(command, IvtSetMode):
        return IvtModeReply(command.run, command.run_at_startup)
    return IvtStoreReply()


IVT_FRAME_TYPES: tuple[type[Frame], ...] = (
    IvtCurrent,
    IvtVoltage1,
    IvtVoltage2,
    IvtVoltage3,
    IvtTemperature,
    IvtPower,
    IvtCharge,
    IvtEnergy,
    IvtResultConfig,
    IvtStore,
    IvtSetMode,
    *IVT_REPLY_TYPES,
)
