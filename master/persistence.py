"""What the master persists and how it comes back: the estimator (SOC, capacity and R0 per
cell), the lifetime counters, the contactor closings, the drift correction's state (the
calibration schedule, the current sensor's gain); the safety state (ERROR, its cause and
every latched diagnosis entry: a restart must not be a reset); and the freeze frame stored
with every diagnosis event. Pure: the store itself is master/store.py."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

from dbc.frames import MasterState
from master.core import MasterCore
from master.diagnosis.table import DiagId
from master.estimation.pack_estimator import Counters, EstimatorState
from master.events import Location
from master.report import PackReport
from master.store import Store

MAX_FREEZE_DECIMALS = 4


def snapshot(core: MasterCore) -> dict[str, Any]:
    state = core.algorithms.estimator.state()
    return {
        "estimator": {"soc": state.soc, "capacity_ah": state.capacity_ah,
                      "r0_ohm": state.r0_ohm,
                      "cells": core.settings.pack.cells},
        "counters": dataclasses.asdict(state.counters),
        "contactor_closings": list(core.contactor_closings),
        DRIFT_KEY: core.algorithms.drift.record(),
    }


SAFETY_KEY = "safety"
DRIFT_KEY = "drift"


def safety_record(core: MasterCore) -> dict[str, Any]:
    """What a restart must keep: ERROR with its cause, and the latched entries."""
    return {
        "error": core.state is MasterState.ERROR,
        "cause": core.error_cause.name if core.error_cause is not None else None,
        "latched": sorted([entry.name, location.module, location.element]
                          for entry, location in core.engine.latched()),
    }


def restore_safety(core: MasterCore, record: Any, now_s: float) -> list[str]:
    """The stored safety state into a fresh core: it starts in ERROR, with the latched
    entries active, and leaves them by the same resets as before the restart. A record
    that cannot be read is taken as the worst case it could have been: ERROR."""
    notes: list[str] = []
    try:
        latched = [(DiagId[str(name)], Location(module, element))
                   for name, module, element in record["latched"]]
        error, cause = bool(record["error"]), record["cause"]
        cause_id = DiagId[str(cause)] if cause is not None else None
    except (KeyError, TypeError, ValueError) as exc:
        core.machine.restore_error(f"unreadable stored safety state ({exc!r})", now_s)
        return [f"stored safety state unreadable ({exc!r}): starting in ERROR"]
    for entry, location in latched:
        core.engine.restore_latched(entry, location, now_s)
        notes.append(f"latched {entry.name.lower()} at {location} restored: a service reset "
                     f"clears it once its condition has gone")
    if error:
        core.error_cause = cause_id
        core.machine.restore_error(cause_id.name.lower() if cause_id else "ERROR", now_s)
        notes.append(f"ERROR restored (cause {cause_id.name.lower() if cause_id else 'none'}):"
                     f" a fault reset leaves it once no fatal cause remains")
    return notes


def restore(core: MasterCore, store: Store, now_s: float = 0.0,
            wall_s: float | None = None) -> list[str]:
    """Bring the stored state back into a fresh core; returns what it did, for the log.
    ``wall_s``: the Unix time now (None: the clock's), for how long the master was off: the
    calibration schedule counts that time too."""
    notes = []
    safety = store.load_state(SAFETY_KEY)
    if safety is not None:
        notes += restore_safety(core, safety[1], now_s)
    loaded = store.load_state("estimator")
    counters = store.load_state("counters")
    if loaded is not None:
        _, values = loaded
        if any(not isinstance(x, (int, float)) or math.isnan(x) for x in values["soc"]):
            notes.append("stored estimator state incomplete: starting from the OCV")
        else:
            state = EstimatorState(values["soc"], values["capacity_ah"], values["r0_ohm"],
                                   Counters(**counters[1]) if counters else Counters())
            core.algorithms.estimator.restore(state)
            notes.append(f"estimator state restored ({len(values['soc'])} cells); the SOC is "
                         f"checked against the OCV at the first measurement")
    drift = store.load_state(DRIFT_KEY)
    if drift is not None:
        offline_s = max(0.0, (time.time() if wall_s is None else wall_s) - drift[0])
        notes += [f"drift correction: {note}" for note in
                  core.algorithms.drift.restore(drift[1], now_s, offline_s)]
    closings = store.load_state("contactor_closings")
    if closings is not None and len(closings[1]) == len(core.contactor_closings):
        core.contactor_closings = [int(x) for x in closings[1]]
        notes.append(f"contactor closings restored: {core.contactor_closings}")
    return notes + core.algorithms.estimator.take_notes()


def freeze_frame(report: PackReport) -> dict[str, Any]:
    """The pack at this moment (its report), as stored with a diagnosis event."""
    summary, estimate, limits = report.summary, report.estimate, report.limits
    current = report.current_measured_a

    def extreme(e: Any) -> list[float] | None:
        return None if e is None else [round(e.value, 1), e.module_id, e.index]

    frame: dict[str, Any] = {
        "state": report.state.name,
        "current_a": None if current is None else round(current, 3),
        "sum_of_cells_v": None if summary.sum_of_cells_v is None
        else round(summary.sum_of_cells_v, 3),
        "min_cell_mv": extreme(summary.min_cell_mv),
        "max_cell_mv": extreme(summary.max_cell_mv),
        "min_temperature_degc": extreme(summary.min_temperature_degc),
        "max_temperature_degc": extreme(summary.max_temperature_degc),
        "charge_limit_a": round(limits.charge_a, 2),
        "discharge_limit_a": round(limits.discharge_a, 2),
    }
    if estimate is not None:
        frame["soc_min_pct"] = round(estimate.soc_min * 100, 2)
        frame["soc_max_pct"] = round(estimate.soc_max * 100, 2)
    return frame
