"""Typed frames of the vehicle bus (dbc/vehicle.dbc): the VCU's request, the BMS status."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from dbc.frames import Contactors, Frame, MasterState, Signals
from dbc.layout import MessageLayout

# Fault and warning groups, by the suffix of their one-bit signals (FaultX / WarningX).
GROUP_SIGNALS = ("CellVoltage", "CellTemperature", "Current", "CurrentSensor", "Slave", "Vcu",
                 "Contactor", "Precharge", "Plausibility", "Bus")


class RequestedState(enum.IntEnum):
    """What the VCU asks the BMS for (value table ``RequestedState``)."""

    STANDBY = 0
    DRIVE = 1
    CHARGE = 2


@dataclass(frozen=True, slots=True)
class VcuRequest:
    MESSAGE: ClassVar[str] = "VcuRequest"
    requested: RequestedState
    reset_faults: bool = False
    service_reset: bool = False

    def to_signals(self, layout: MessageLayout) -> Signals:
        return {"RequestedState": int(self.requested), "ResetFaults": int(self.reset_faults),
                "ServiceReset": int(self.service_reset)}

    @classmethod
    def from_signals(cls, signals: Mapping[str, Any], layout: MessageLayout) -> Self:
        return cls(RequestedState(signals["RequestedState"]), bool(signals["ResetFaults"]),
                   bool(signals["ServiceReset"]))


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

    def to_signals(self, layout: MessageLayout) -> Signals:
        c = self.contactors
        signals: Signals = {
            "BmsState": int(self.state), "MainPlusClosed": int(c.main_plus),
            "MainMinusClosed": int(c.main_minus), "PrechargeClosed": int(c.precharge),
            "ResetRequired": int(self.reset_required),
            "ClosingBlocked": int(self.closing_blocked), "FaultReason": self.fault_reason,
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
        )


VEHICLE_FRAME_TYPES: tuple[type[Frame], ...] = (VcuRequest, BmsStatus)
