"""Typed frames of the pack bus: one frozen dataclass per DBC message (or multiplexed page).

A frame class names its DBC message (``MESSAGE``) and converts between its fields and the
message's signals by signal *name*; bit positions, scales, ranges, invalid markers and
multiplexer values all come from the DBC through `MessageLayout`.
Fields carry units in their names. ``None`` in a measurement array means "invalid".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout

Signals = dict[str, Any]


class Frame(Protocol):
    """What the codec needs from a typed frame class."""

    MESSAGE: ClassVar[str]

    def to_signals(self, layout: MessageLayout) -> Signals: ...

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self: ...


class MasterState(enum.IntEnum):
    """The BMS state machine's state (value table ``MasterState``)."""

    INIT = 0
    STANDBY = 1
    PRECHARGE = 2
    NORMAL = 3
    CHARGE = 4
    ERROR = 5


class AfeState(enum.IntEnum):
    """A slave's analog front end state (value table ``AfeState``)."""

    INIT = 0
    MEASURING = 1
    FAULT = 2
    STOPPED = 3


class ModuleFault(enum.IntFlag):
    """Fault flags a slave reports in ModuleStatus (one DBC signal each)."""

    NONE = 0
    AFE_COMM = enum.auto()
    OPEN_WIRE = enum.auto()
    MEASUREMENT_RANGE = enum.auto()
    TEMPERATURE_SENSOR = enum.auto()
    BALANCING_COMMAND_STALE = enum.auto()
    MEASUREMENT_OVERRUN = enum.auto()
    INTERNAL = enum.auto()


MODULE_FAULT_SIGNALS: dict[ModuleFault, str] = {
    ModuleFault.AFE_COMM: "FaultAfeComm",
    ModuleFault.OPEN_WIRE: "FaultOpenWire",
    ModuleFault.MEASUREMENT_RANGE: "FaultMeasurementRange",
    ModuleFault.TEMPERATURE_SENSOR: "FaultTemperatureSensor",
    ModuleFault.BALANCING_COMMAND_STALE: "BalancingCommandStale",
    ModuleFault.MEASUREMENT_OVERRUN: "MeasurementOverrun",
    ModuleFault.INTERNAL: "FaultInternal",
}
# the same as (bit, signal) pairs of plain ints: an enum's value is a Python-level property
MODULE_FAULT_BITS = tuple((int(flag), name) for flag, name in MODULE_FAULT_SIGNALS.items())


def _optional_in(layout: MessageLayout, name: str, value: float | None) -> float | None:
    """Encode side of a measurement with an invalid marker: None -> marker, else saturate."""
    if value is None:
        return layout.invalid_value(name)
    return layout.saturate(name, value)


def _optional_out(layout: MessageLayout, name: str, value: float) -> float | None:
    invalid = layout.invalid_value(name)
    if invalid is not None and abs(value - invalid) < layout.resolution(name) / 2:
        return None
    return physical(layout, name, value)


def physical(layout: MessageLayout, name: str, value: float) -> float:
    """A decoded value rounded to the signal's resolution (drops float noise of the scaling)."""
    decimals = layout.decimals(name)
    return round(value, decimals) if decimals else value


# --- master to slaves -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MasterHeartbeat:
    MESSAGE: ClassVar[str] = "MasterHeartbeat"
    state: MasterState
    balancing_allowed: bool

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MasterState": int(self.state), "BalancingAllowed": int(self.balancing_allowed)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(MasterState(signals["MasterState"]), bool(signals["BalancingAllowed"]))


@dataclass(frozen=True, slots=True)
class BalancingCommand:
    MESSAGE: ClassVar[str] = "BalancingCommand"
    cells_mask: int  # bit i: bleed cell i
    duration_s: int  # 0 stops balancing

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {
            "BalancingCells": self.cells_mask,
            "BalancingDuration": layout.saturate("BalancingDuration", self.duration_s),
        }

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["BalancingCells"]), int(signals["BalancingDuration"]))


# --- slave to master --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleStatus:
    MESSAGE: ClassVar[str] = "ModuleStatus"
    afe_state: AfeState
    balancing_mask: int
    module_voltage_v: float
    faults: ModuleFault

    def to_signals(self, layout: MessageLayout) -> Signals:
        signals: Signals = {
            "AfeState": int(self.afe_state),
            "BalancingCells": self.balancing_mask,
            "ModuleVoltage": layout.saturate("ModuleVoltage", self.module_voltage_v),
        }
        faults = int(self.faults)  # int arithmetic: a flag test costs a microsecond
        for bit, name in MODULE_FAULT_BITS:
            signals[name] = 1 if faults & bit else 0
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        faults = ModuleFault.NONE
        for flag, name in MODULE_FAULT_SIGNALS.items():
            if signals[name]:
                faults |= flag
        return cls(
            AfeState(signals["AfeState"]),
            int(signals["BalancingCells"]),
            physical(layout, "ModuleVoltage", signals["ModuleVoltage"]),
            faults,
        )


class _ArrayFrame:
    """A measurement array spread over multiplexed groups (``PREFIX`` + index signals)."""

    MESSAGE: ClassVar[str]
    PREFIX: ClassVar[str]
    INTEGER_VALUES: ClassVar[bool] = False

    FIELDS: ClassVar[tuple[str, str]]  # the attributes of the first index and the values

    @classmethod
    def group_of(cls, layout: MessageLayout, first: int) -> tuple[int, tuple[int, ...]]:
        for mux, indices in layout.array_groups(cls.PREFIX).items():
            if indices[0] == first:
                return mux, indices
        raise ValueError(f"{cls.MESSAGE}: no group starts at element {first}")

    @classmethod
    def _encode_values(
        cls, layout: MessageLayout, first: int, values: tuple[float | None, ...]
    ) -> Signals:
        mux, indices = cls.group_of(layout, first)
        if len(values) > len(indices):
            raise ValueError(f"{cls.MESSAGE}: {len(values)} values for a group of {len(indices)}")
        names = layout.indexed_signals(cls.PREFIX)
        signals: Signals = {str(layout.multiplexer): mux}
        for position, index in enumerate(indices):
            value = values[position] if position < len(values) else None
            signals[names[index]] = _optional_in(layout, names[index], value)
        return signals

    @classmethod
    def _decode_values(
        cls, signals: Mapping[str, Any], layout: MessageLayout
    ) -> tuple[int, tuple[Any, ...]]:
        slots = layout.array_slots(cls.PREFIX)[int(signals[str(layout.multiplexer)])]
        return slots[0].index, tuple(slot.read(signals[slot.signal]) for slot in slots)


@dataclass(frozen=True, slots=True)
class CellVoltages(_ArrayFrame):
    MESSAGE: ClassVar[str] = "CellVoltages"
    PREFIX: ClassVar[str] = "CellVoltage"
    INTEGER_VALUES: ClassVar[bool] = True
    FIELDS: ClassVar[tuple[str, str]] = ("first_cell", "voltages_mv")
    first_cell: int
    voltages_mv: tuple[int | None, ...]

    def to_signals(self, layout: MessageLayout) -> Signals:
        return self._encode_values(layout, self.first_cell, self.voltages_mv)

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        first, values = cls._decode_values(signals, layout)
        return cls(first, tuple(None if v is None else int(v) for v in values))


@dataclass(frozen=True, slots=True)
class CellTemperatures(_ArrayFrame):
    MESSAGE: ClassVar[str] = "CellTemperatures"
    PREFIX: ClassVar[str] = "Temperature"
    FIELDS: ClassVar[tuple[str, str]] = ("first_sensor", "temperatures_degc")
    first_sensor: int
    temperatures_degc: tuple[float | None, ...]

    def to_signals(self, layout: MessageLayout) -> Signals:
        return self._encode_values(layout, self.first_sensor, self.temperatures_degc)

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        first, values = cls._decode_values(signals, layout)
        return cls(first, values)


# --- master to observers (pages of MasterStatus) ----------------------------------------------


class _Page:
    """A page of a multiplexed message; the page number is where ``SIGNALS`` live in the DBC."""

    MESSAGE: ClassVar[str]
    SIGNALS: ClassVar[tuple[str, ...]]

    @classmethod
    def page(cls, layout: MessageLayout) -> int:
        return layout.mux_value_of(cls.SIGNALS)

    @classmethod
    def _with_page(cls, layout: MessageLayout, signals: Signals) -> Signals:
        signals[str(layout.multiplexer)] = cls.page(layout)
        return signals


@dataclass(frozen=True, slots=True)
class MasterSummary(_Page):
    MESSAGE: ClassVar[str] = "MasterStatus"
    SIGNALS: ClassVar[tuple[str, ...]] = (
        "MasterState", "ModulesOnline", "ModulesStale", "ModulesLost", "PackVoltage", "E2EErrors",
    )
    state: MasterState
    modules_online: int
    modules_stale: int
    modules_lost: int
    pack_voltage_v: float
    e2e_errors: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return self._with_page(layout, {
            "MasterState": int(self.state),
            "ModulesOnline": self.modules_online,
            "ModulesStale": self.modules_stale,
            "ModulesLost": self.modules_lost,
            "PackVoltage": layout.saturate("PackVoltage", self.pack_voltage_v),
            "E2EErrors": layout.saturate("E2EErrors", self.e2e_errors),
        })

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(
            MasterState(signals["MasterState"]),
            int(signals["ModulesOnline"]),
            int(signals["ModulesStale"]),
            int(signals["ModulesLost"]),
            physical(layout, "PackVoltage", signals["PackVoltage"]),
            int(signals["E2EErrors"]),
        )


@dataclass(frozen=True, slots=True)
class CellVoltageExtremes(_Page):
    MESSAGE: ClassVar[str] = "MasterStatus"
    SIGNALS: ClassVar[tuple[str, ...]] = (
        "MinCellVoltage", "MinCellModule", "MinCellIndex",
        "MaxCellVoltage", "MaxCellModule", "MaxCellIndex",
    )
    min_mv: int | None
    min_module: int
    min_cell: int
    max_mv: int | None
    max_module: int
    max_cell: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return self._with_page(layout, {
            "MinCellVoltage": _optional_in(layout, "MinCellVoltage", self.min_mv),
            "MinCellModule": self.min_module,
            "MinCellIndex": self.min_cell,
            "MaxCellVoltage": _optional_in(layout, "MaxCellVoltage", self.max_mv),
            "MaxCellModule": self.max_module,
            "MaxCellIndex": self.max_cell,
        })

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        low = _optional_out(layout, "MinCellVoltage", signals["MinCellVoltage"])
        high = _optional_out(layout, "MaxCellVoltage", signals["MaxCellVoltage"])
        return cls(
            None if low is None else int(low),
            int(signals["MinCellModule"]),
            int(signals["MinCellIndex"]),
            None if high is None else int(high),
            int(signals["MaxCellModule"]),
            int(signals["MaxCellIndex"]),
        )


@dataclass(frozen=True, slots=True)
class PackAverages(_Page):
    MESSAGE: ClassVar[str] = "MasterStatus"
    SIGNALS: ClassVar[tuple[str, ...]] = (
        "AvgCellVoltage", "MinTemperature", "MaxTemperature", "MaxTemperatureModule",
    )
    avg_cell_mv: int | None
    min_temperature_degc: float | None
    max_temperature_degc: float | None
    max_temperature_module: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return self._with_page(layout, {
            "AvgCellVoltage": _optional_in(layout, "AvgCellVoltage", self.avg_cell_mv),
            "MinTemperature": _optional_in(layout, "MinTemperature", self.min_temperature_degc),
            "MaxTemperature": _optional_in(layout, "MaxTemperature", self.max_temperature_degc),
            "MaxTemperatureModule": self.max_temperature_module,
        })

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        avg = _optional_out(layout, "AvgCellVoltage", signals["AvgCellVoltage"])
        low = _optional_out(layout, "MinTemperature", signals["MinTemperature"])
        high = _optional_out(layout, "MaxTemperature", signals["MaxTemperature"])
        return cls(
            None if avg is None else int(avg),
            low,
            high,
            int(signals["MaxTemperatureModule"]),
        )


class _MaskPage(_Page):
    MESSAGE: ClassVar[str] = "MasterStatus"
    mask: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return self._with_page(layout, {self.SIGNALS[0]: self.mask})

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals[cls.SIGNALS[0]]))  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class ModulesOnlineMask(_MaskPage):
    SIGNALS: ClassVar[tuple[str, ...]] = ("ModulesOnlineMask",)
    mask: int  # bit m: module m online


@dataclass(frozen=True, slots=True)
class ModulesStaleMask(_MaskPage):
    SIGNALS: ClassVar[tuple[str, ...]] = ("ModulesStaleMask",)
    mask: int


@dataclass(frozen=True, slots=True)
class ModulesLostMask(_MaskPage):
    SIGNALS: ClassVar[tuple[str, ...]] = ("ModulesLostMask",)
    mask: int


# --- master and contactor box -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contactors:
    """A state of the three contactors: True = closed (command: close)."""

    main_plus: bool = False
    main_minus: bool = False
    precharge: bool = False

    @property
    def any_closed(self) -> bool:
        return self.main_plus or self.main_minus or self.precharge


OPEN = Contactors()


@dataclass(frozen=True, slots=True)
class ContactorCommand:
    MESSAGE: ClassVar[str] = "ContactorCommand"
    contactors: Contactors
    auth_mac: int = 0  # dbc/contactor_auth.py; 0: authentication off

    def to_signals(self, layout: MessageLayout) -> Signals:
        c = self.contactors
        return {"MainPlus": int(c.main_plus), "MainMinus": int(c.main_minus),
                "Precharge": int(c.precharge), "AuthMac": self.auth_mac}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(Contactors(bool(signals["MainPlus"]), bool(signals["MainMinus"]),
                              bool(signals["Precharge"])), int(signals["AuthMac"]))


@dataclass(frozen=True, slots=True)
class ContactorFeedback:
    MESSAGE: ClassVar[str] = "ContactorFeedback"
    contactors: Contactors  # what the auxiliary contacts say
    fuse_blown: bool
    bus_voltage_v: float
    challenge: int = 0  # for authenticated commands (dbc/contactor_auth.py); 0: off

    def to_signals(self, layout: MessageLayout) -> Signals:
        c = self.contactors
        return {"MainPlusClosed": int(c.main_plus), "MainMinusClosed": int(c.main_minus),
                "PrechargeClosed": int(c.precharge), "FuseBlown": int(self.fuse_blown),
                "BusVoltage": layout.saturate("BusVoltage", self.bus_voltage_v),
                "AuthChallenge": self.challenge}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(
            Contactors(bool(signals["MainPlusClosed"]), bool(signals["MainMinusClosed"]),
                       bool(signals["PrechargeClosed"])),
            bool(signals["FuseBlown"]),
            physical(layout, "BusVoltage", signals["BusVoltage"]),
            int(signals["AuthChallenge"]),
        )


PACK_FRAME_TYPES: tuple[type[Frame], ...] = (
    MasterHeartbeat,
    BalancingCommand,
    ModuleStatus,
    CellVoltages,
    CellTemperatures,
    MasterSummary,
    CellVoltageExtremes,
    PackAverages,
    ModulesOnlineMask,
    ModulesStaleMask,
    ModulesLostMask,
    ContactorCommand,
    ContactorFeedback,
)

