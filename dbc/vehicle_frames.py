"""Typed frames of the vehicle bus (dbc/vehicle.dbc): the VCU's request, the BMS status,
limits, state of charge and health."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from dbc.frames import Contactors, Frame, MasterState, Signals

if TYPE_CHECKING:
    from dbc.codec.layout import MessageLayout

# Fault and warning groups, by the suffix of their one-bit signals (FaultX / WarningX).
GROUP_SIGNALS = ("CellVoltage", "CellTemperature", "Current", "CurrentSensor", "Slave", "Vcu",
                 "Contactor", "Precharge", "Plausibility", "Bus", "Charger", "Inverter")


class RequestedState(enum.IntEnum):
    """What the VCU asks the BMS for (value table ``RequestedState``)."""

    STANDBY = 0
    DRIVE = 1
    CHARGE = 2


class Limiter(enum.IntEnum):
    """What sets a current limit (value table ``Limiter`` of BmsLimits)."""

    MAXIMUM = 0
    TEMPERATURE = 1
    SOC = 2
    CELL_VOLTAGE = 3
    RESISTANCE = 4
    STATE = 5
    LIMP_HOME = 6
    RAMP = 7


@dataclass(frozen=True, slots=True)
class VcuRequest:
    MESSAGE: ClassVar[str] = "VcuRequest"
    requested: RequestedState
    reset_faults: bool = False
    service_reset: bool = False
    balancing_disabled: bool = False
    balancing_threshold_mv: int = 0  # 0: the BMS's own threshold

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"RequestedState": int(self.requested), "ResetFaults": int(self.reset_faults),
                "ServiceReset": int(self.service_reset),
                "BalancingDisabled": int(self.balancing_disabled),
                "BalancingThreshold": self.balancing_threshold_mv}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(RequestedState(signals["RequestedState"]), bool(signals["ResetFaults"]),
                   bool(signals["ServiceReset"]), bool(signals["BalancingDisabled"]),
                   int(signals["BalancingThreshold"]))


@dataclass(frozen=True, slots=True)
class BmsStatus:
    MESSAGE: ClassVar[str] = "BmsStatus"
    state: MasterState
    contactors: Contactors
    reset_required: bool
    closing_blocked: bool
    fault_reason: int  # diagnosis code of the first active fatal entry, 0: none
    fault_groups: frozenset[str]
    warning_groups: frozenset[str]
    charge_complete: bool = False  # the master's charge through the charger has ended

    def to_signals(self, layout: MessageLayout) -> Signals:
        c = self.contactors
        signals: Signals = {
            "BmsState": int(self.state), "MainPlusClosed": int(c.main_plus),
            "MainMinusClosed": int(c.main_minus), "PrechargeClosed": int(c.precharge),
            "ResetRequired": int(self.reset_required),
            "ClosingBlocked": int(self.closing_blocked), "FaultReason": self.fault_reason,
            "ChargeComplete": int(self.charge_complete),
        }
        for group in GROUP_SIGNALS:
            signals[f"Fault{group}"] = int(group in self.fault_groups)
            signals[f"Warning{group}"] = int(group in self.warning_groups)
        return signals

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(
            MasterState(signals["BmsState"]),
            Contactors(bool(signals["MainPlusClosed"]), bool(signals["MainMinusClosed"]),
                       bool(signals["PrechargeClosed"])),
            bool(signals["ResetRequired"]),
            bool(signals["ClosingBlocked"]),
            int(signals["FaultReason"]),
            frozenset(g for g in GROUP_SIGNALS if signals[f"Fault{g}"]),
            frozenset(g for g in GROUP_SIGNALS if signals[f"Warning{g}"]),
            bool(signals["ChargeComplete"]),
        )


@dataclass(frozen=True, slots=True)
class BmsLimits:
    MESSAGE: ClassVar[str] = "BmsLimits"
    charge_a: float
    discharge_a: float  # a magnitude
    charge_limiter: Limiter
    discharge_limiter: Limiter

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ChargeCurrentLimit": layout.saturate("ChargeCurrentLimit", self.charge_a),
                "DischargeCurrentLimit": layout.saturate("DischargeCurrentLimit",
                                                 self.discharge_a),
                "ChargeLimiter": int(self.charge_limiter),
                "DischargeLimiter": int(self.discharge_limiter)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["ChargeCurrentLimit"], 1),
                   round(signals["DischargeCurrentLimit"], 1),
                   Limiter(signals["ChargeLimiter"]), Limiter(signals["DischargeLimiter"]))


@dataclass(frozen=True, slots=True)
class BmsPowerLimits:
    MESSAGE: ClassVar[str] = "BmsPowerLimits"
    charge_kw: float
    discharge_kw: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ChargePowerLimit": layout.saturate("ChargePowerLimit", self.charge_kw),
                "DischargePowerLimit": layout.saturate("DischargePowerLimit", self.discharge_kw)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["ChargePowerLimit"], 2), round(signals["DischargePowerLimit"], 2))


@dataclass(frozen=True, slots=True)
class BmsSoc:
    MESSAGE: ClassVar[str] = "BmsSoc"
    min_pct: float
    max_pct: float
    average_pct: float
    usable_pct: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        names = ("SocMin", "SocMax", "SocAverage", "SocUsable")
        values = (self.min_pct, self.max_pct, self.average_pct, self.usable_pct)
        return {n: layout.saturate(n, v) for n, v in zip(names, values, strict=True)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["SocMin"], 1), round(signals["SocMax"], 1),
                   round(signals["SocAverage"], 1), round(signals["SocUsable"], 1))


@dataclass(frozen=True, slots=True)
class BmsHealth:
    MESSAGE: ClassVar[str] = "BmsHealth"
    energy_kwh: float
    capacity_pct: float  # the weakest cell's capacity against nominal
    resistance_pct: float  # the highest cell resistance against nominal
    weakest_module: int
    weakest_cell: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"EnergyRemaining": layout.saturate("EnergyRemaining", self.energy_kwh),
                "CapacityHealth": layout.saturate("CapacityHealth", self.capacity_pct),
                "ResistanceRatio": layout.saturate("ResistanceRatio", self.resistance_pct),
                "WeakestModule": self.weakest_module, "WeakestCell": self.weakest_cell}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["EnergyRemaining"], 2), round(signals["CapacityHealth"], 1),
                   float(signals["ResistanceRatio"]), int(signals["WeakestModule"]),
                   int(signals["WeakestCell"]))


class ThermalRequest(enum.IntEnum):
    """What the pack asks of the vehicle's thermal system (value table ``ThermalRequest``)."""

    NONE = 0
    COOLING = 1
    HEATING = 2


@dataclass(frozen=True, slots=True)
class BmsPack:
    MESSAGE: ClassVar[str] = "BmsPack"
    voltage_v: float
    current_a: float  # positive charges
    power_kw: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"PackVoltage": layout.saturate("PackVoltage", self.voltage_v),
                "PackCurrent": layout.saturate("PackCurrent", self.current_a),
                "PackPower": layout.saturate("PackPower", self.power_kw)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["PackVoltage"], 1), round(signals["PackCurrent"], 1),
                   round(signals["PackPower"], 1))


@dataclass(frozen=True, slots=True)
class BmsVoltageLimits:
    MESSAGE: ClassVar[str] = "BmsVoltageLimits"
    max_charge_v: float
    min_discharge_v: float

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MaxChargeVoltage": layout.saturate("MaxChargeVoltage", self.max_charge_v),
                "MinDischargeVoltage": layout.saturate("MinDischargeVoltage",
                                               self.min_discharge_v)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(round(signals["MaxChargeVoltage"], 1),
                   round(signals["MinDischargeVoltage"], 1))


@dataclass(frozen=True, slots=True)
class BmsCellVoltageExtremes:
    MESSAGE: ClassVar[str] = "BmsCellVoltageExtremes"
    min_mv: int
    min_module: int
    min_cell: int
    max_mv: int
    max_module: int
    max_cell: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"MinCellVoltage": round(layout.saturate("MinCellVoltage", self.min_mv)),
                "MinCellModule": self.min_module, "MinCell": self.min_cell,
                "MaxCellVoltage": round(layout.saturate("MaxCellVoltage", self.max_mv)),
                "MaxCellModule": self.max_module, "MaxCell": self.max_cell}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(int(signals["MinCellVoltage"]), int(signals["MinCellModule"]),
                   int(signals["MinCell"]), int(signals["MaxCellVoltage"]),
                   int(signals["MaxCellModule"]), int(signals["MaxCell"]))


@dataclass(frozen=True, slots=True)
class BmsTemperatures:
    MESSAGE: ClassVar[str] = "BmsTemperatures"
    request: ThermalRequest
    min_degc: int
    min_module: int
    min_sensor: int
    max_degc: int
    max_module: int
    max_sensor: int

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"ThermalRequest": int(self.request),
                "MinTemperature": round(layout.saturate("MinTemperature", self.min_degc)),
                "MinTemperatureModule": self.min_module,
                "MinTemperatureSensor": self.min_sensor,
                "MaxTemperature": round(layout.saturate("MaxTemperature", self.max_degc)),
                "MaxTemperatureModule": self.max_module,
                "MaxTemperatureSensor": self.max_sensor}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(ThermalRequest(signals["ThermalRequest"]), int(signals["MinTemperature"]),
                   int(signals["MinTemperatureModule"]), int(signals["MinTemperatureSensor"]),
                   int(signals["MaxTemperature"]), int(signals["MaxTemperatureModule"]),
                   int(signals["MaxTemperatureSensor"]))


VEHICLE_FRAME_TYPES: tuple[type[Frame], ...] = (
    VcuRequest, BmsStatus, BmsLimits, BmsPowerLimits, BmsPack, BmsVoltageLimits,
    BmsCellVoltageExtremes, BmsTemperatures, BmsSoc, BmsHealth)
