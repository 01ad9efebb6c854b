"""Typed events of the master: every diagnosis transition, state change, contactor command,
notice and correction of the estimator.

They are what the rest of the master (logging, persistence, telemetry) consumes; the core
appends them to a bounded journal and counts them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from dbc.frames import Contactors, MasterState
from master.diagnosis.table import DiagId, Severity


class Location(NamedTuple):
    """Where a diagnosis applies: the pack (both None), a module, or a cell/sensor in it.
    (A named tuple: it is hashed for every observation, and tuples hash fast.)"""

    module: int | None = None
    element: int | None = None  # cell, sensor or contactor index

    def __str__(self) -> str:
        if self.module is None:
            return "pack" if self.element is None else f"#{self.element}"
        if self.element is None:
            return f"module {self.module}"
        return f"module {self.module} #{self.element}"


PACK = Location()


class DiagnosisChange(enum.Enum):
    SET = "set"
    CLEARED = "cleared"
    RESET = "reset"  # a latched entry cleared by a service reset


@dataclass(frozen=True, slots=True)
class DiagnosisEvent:
    time_s: float
    entry: DiagId
    change: DiagnosisChange
    severity: Severity
    location: Location
    value: float | None
    limit: float | None

    def describe(self) -> str:
        detail = ""
        if self.value is not None:
            detail = f" value {self.value:g}" + (f", limit {self.limit:g}"
                                                  if self.limit is not None else "")
        return (f"{self.entry.name.lower()} {self.change.value} ({self.severity.name.lower()})"
                f" at {self.location}{detail}")


@dataclass(frozen=True, slots=True)
class StateEvent:
    time_s: float
    old: MasterState
    new: MasterState
    reason: str

    def describe(self) -> str:
        return f"state {self.old.name} -> {self.new.name}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ContactorEvent:
    time_s: float
    command: Contactors
    reason: str

    def describe(self) -> str:
        c = self.command
        closed = [n for n, v in (("main+", c.main_plus), ("main-", c.main_minus),
                                 ("precharge", c.precharge)) if v]
        return f"contactors: {', '.join(closed) or 'all open'} ({self.reason})"


@dataclass(frozen=True, slots=True)
class NoticeEvent:
    """Anything else worth a line in the history (break-current waits, precharge tries)."""

    time_s: float
    text: str

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class EstimationEvent:
    """The estimator corrected against drift (docs/estimation.md#against-soc-drift): the SOC
    set by the operator or at a full point, a calibration charge's start and end, the
    current sensor's gain. ``old`` and ``new`` in ``unit`` (an SOC in %, a voltage limit in
    V, a gain error in %)."""

    time_s: float
    entry: str  # soc_set, full_point, calibration_started, calibration_ended, current_gain
    old: float
    new: float
    unit: str
    text: str

    def describe(self) -> str:
        return self.text


MasterEvent = DiagnosisEvent | StateEvent | ContactorEvent | NoticeEvent | EstimationEvent
