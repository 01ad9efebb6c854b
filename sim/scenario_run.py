"""Runs a scenario on the lockstep pack and samples true and estimated values.

The events act where a real test bench would: requests and faults go over the simulation
bus (as `bms inject` sends them), drive profiles and charge currents are the VCU's, the
ambient temperature is the plant's. Every ``sample_period_s`` of virtual time one row of
the time series is taken: the plant's truth beside the master's estimates and decisions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bms.chemistry import REFERENCE_CELLS, cell_capacity_ah
from bms.settings import Settings
from dbc.sim_frames import (
    CellQuantity,
    InjectCell,
    InjectCurrent,
    InjectSlave,
    SlaveFault,
    VcuCommand,
    VcuCommandRequest,
)
from master.estimation.ocv_curve import OcvCurve
from sim.lockstep import LockstepPack
from sim.scenario import (
    AmbientEvent,
    BalancingEvent,
    ChargeEvent,
    DriveEvent,
    Event,
    InjectCellEvent,
    InjectCurrentEvent,
    InjectSlaveEvent,
    ParkEvent,
    ResetEvent,
    Scenario,
)

PCT = 100.0
WH_PER_KWH = 1000.0
SETTLE_S = 600.0  # SOC errors are scored after the estimator's first 10 minutes
QUANTITIES = {"voltage": CellQuantity.VOLTAGE, "temperature": CellQuantity.TEMPERATURE,
              "invalid": CellQuantity.INVALID, "clear": CellQuantity.CLEAR}
COLUMNS = (
    "time_s", "state", "contactors_closed", "current_a", "current_measured_a",
    "pack_voltage_v", "cell_v_min", "cell_v_mean", "cell_v_max", "cell_spread_mv",
    "temperature_max_degc", "soc_true_min_pct", "soc_true_mean_pct", "soc_true_max_pct",
    "soc_est_min_pct", "soc_est_mean_pct", "soc_est_max_pct", "soc_usable_pct",
    "soc_error_max_pct", "soc_error_rms_pct", "energy_true_kwh", "energy_est_kwh",
    "charge_limit_a", "discharge_limit_a", "charge_limiter", "discharge_limiter",
    "balancing_cells", "capacity_health_min_pct", "resistance_max_pct", "faults",
)


@dataclass
class Summary:
    scenario: str
    virtual_s: float = 0.0
    wall_s: float = 0.0
    cells: int = 0
    frames: int = 0
    soc_error_max_pct: float = 0.0  # after the first SETTLE_S
    soc_error_rms_pct: float = 0.0
    final_state: str = ""
    faults_seen: list[str] = field(default_factory=list)
    charge_completed_s: list[float] = field(default_factory=list)
    final_cell_spread_mv: float = 0.0
    _squares: float = 0.0
    _samples: int = 0

    @property
    def speed(self) -> float:
        return self.virtual_s / self.wall_s if self.wall_s > 0 else math.inf

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "virtual_s": self.virtual_s,
            "wall_s": round(self.wall_s, 3), "x_real_time": round(self.speed, 2),
            "cells": self.cells, "cell_seconds_per_wall_second":
                round(self.cells * self.speed, 1), "frames": self.frames,
            "soc_error_max_pct_after_10_min": round(self.soc_error_max_pct, 4),
            "soc_error_rms_pct_after_10_min": round(self.soc_error_rms_pct, 4),
            "final_state": self.final_state, "faults_seen": self.faults_seen,
            "charge_completed_s": self.charge_completed_s,
            "final_cell_spread_mv": round(self.final_cell_spread_mv, 2),
        }


class ScenarioRun:
    def __init__(self, scenario: Scenario, settings: Settings, cell_columns: bool = False) -> None:
        self.scenario = scenario
        self.settings = settings
        self.pack = LockstepPack(settings)
        self.capacity_ah = cell_capacity_ah(settings)
        self.curve = OcvCurve(REFERENCE_CELLS[settings.pack.chemistry].ocv)
        self.cell_columns = cell_columns
        self.journal: list[tuple[float, str]] = []
        self.summary = Summary(scenario.name, cells=settings.pack.cells)
        self._events = list(scenario.events)
        self._offset_done = False

    @property
    def columns(self) -> tuple[str, ...]:
        if not self.cell_columns:
            return COLUMNS
        names = [f"m{m}_c{c}" for m in range(self.settings.pack.modules)
                 for c in range(self.settings.pack.cells_per_module)]
        return COLUMNS + tuple(f"{kind}_{n}" for kind in ("v", "soc_true", "soc_est")
                               for n in names)

    def rows(self, progress: Callable[[float], None] | None = None) -> Iterator[dict[str, Any]]:
        """Run to the end, yielding one row per sample period."""
        header = self.scenario.header
        pack, started = self.pack, time.perf_counter()
        next_sample = 0.0
        while pack.now_s <= header.duration_s + 1e-9:
            while self._events and self._events[0].at_s <= pack.now_s + 1e-9:
                self._apply(self._events.pop(0))
            if pack.now_s >= next_sample - 1e-9:
                yield self._row()
                next_sample += header.sample_period_s
                if progress is not None:
                    progress(pack.now_s)
            self.summary.frames += len(pack.step())
            self._collect()
            self._offset_estimate()
        self.summary.virtual_s = header.duration_s
        self.summary.wall_s = time.perf_counter() - started
        self.summary.final_state = pack.master.report(pack.now_s).state.name
        if self.summary._samples:
            self.summary.soc_error_rms_pct = math.sqrt(self.summary._squares
                                                       / self.summary._samples)

    def _apply(self, event: Event) -> None:
        pack, vcu = self.pack, self.pack.vcu
        self.journal.append((pack.now_s, f"scenario: {event.kind}"))
        if isinstance(event, DriveEvent):
            if event.profile:
                vcu.drive_profile(event.profile, self.capacity_ah)
            pack.inject(VcuCommand(VcuCommandRequest.DRIVE))
        elif isinstance(event, ParkEvent):
            pack.inject(VcuCommand(VcuCommandRequest.STANDBY))
        elif isinstance(event, ChargeEvent):
            vcu.charge_current_a = event.current_c * self.capacity_ah
            pack.inject(VcuCommand(VcuCommandRequest.CHARGE))
        elif isinstance(event, AmbientEvent):
            for afe in pack.afes:
                afe.plant.ambient_degc = event.degc
        elif isinstance(event, InjectCellEvent):
            pack.inject(InjectCell(event.module, event.cell, QUANTITIES[event.quantity],
                                   event.value, event.duration_s))
        elif isinstance(event, InjectSlaveEvent):
            pack.inject(InjectSlave(event.module, SlaveFault[event.fault.upper()],
                                    event.duration_s))
        elif isinstance(event, InjectCurrentEvent):
            pack.inject(InjectCurrent(event.current_a, event.duration_s))
        elif isinstance(event, BalancingEvent):
            vcu.balancing_disabled = not event.enabled
            vcu.balancing_threshold_mv = event.threshold_mv
        elif isinstance(event, ResetEvent):
            pack.inject(VcuCommand(reset_faults=True))

    def _offset_estimate(self) -> None:
        offset = self.scenario.header.estimator_soc_offset_pct
        if offset and not self._offset_done and \
                self.pack.master.offset_soc_estimate(offset / PCT):
            self._offset_done = True
            self.journal.append((self.pack.now_s, f"scenario: estimate offset by {offset:g} %"))

    def _collect(self) -> None:
        master = self.pack.master
        for event in master.drain_events():
            self.journal.append((event.time_s, event.describe()))
        completed = self.pack.vcu.charge_completed_s
        if completed is not None and completed not in self.summary.charge_completed_s:
            self.summary.charge_completed_s.append(completed)
            self.journal.append((completed, "vcu: charge complete"))

    def _truth(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        current = self.pack.box.current_a
        soc, volts, temps, capacity = [], [], [], []
        for afe in self.pack.afes:
            plant = afe.plant
            volts += plant.cell_voltages_v(current)
            for cell in plant.cells:
                soc.append(cell.soc)
                temps.append(cell.temperature_degc)
                capacity.append(cell.p.capacity_ah)
        return np.array(soc), np.array(volts), np.array(temps), np.array(capacity)

    def _row(self) -> dict[str, Any]:
        pack = self.pack
        report = pack.master.report(pack.now_s)
        soc, volts, temps, capacity = self._truth()
        estimated = np.array(report.cell_soc)
        has_estimate = report.estimate is not None
        error = np.abs(np.clip(estimated, 0, 1) - soc) * PCT if has_estimate else None
        if error is not None and pack.now_s >= SETTLE_S:
            s = self.summary
            s.soc_error_max_pct = max(s.soc_error_max_pct, float(error.max()))
            s._squares += float((error ** 2).sum())
            s._samples += len(error)
        s = self.summary
        s.final_cell_spread_mv = float(volts.max() - volts.min()) * 1000
        limits, estimate = report.limits, report.estimate
        fatal = [str(entry) for entry in report.faults]
        for name in fatal:
            if name not in s.faults_seen:
                s.faults_seen.append(name)
        current = report.current_measured_a
        row: dict[str, Any] = {
            "time_s": pack.now_s, "state": report.state.name,
            "contactors_closed": int(pack.box.contactors.main_plus
                                     and pack.box.contactors.main_minus),
            "current_a": pack.box.current_a,
            "current_measured_a": current if current is not None else math.nan,
            "pack_voltage_v": float(volts.sum()), "cell_v_min": float(volts.min()),
            "cell_v_mean": float(volts.mean()), "cell_v_max": float(volts.max()),
            "cell_spread_mv": s.final_cell_spread_mv,
            "temperature_max_degc": float(temps.max()),
            "soc_true_min_pct": float(soc.min()) * PCT,
            "soc_true_mean_pct": float(soc.mean()) * PCT,
            "soc_true_max_pct": float(soc.max()) * PCT,
            "soc_est_min_pct": estimate.soc_min * PCT if estimate else math.nan,
            "soc_est_mean_pct": estimate.soc_avg * PCT if estimate else math.nan,
            "soc_est_max_pct": estimate.soc_max * PCT if estimate else math.nan,
            "soc_usable_pct": estimate.soc_usable * PCT if estimate else math.nan,
            "soc_error_max_pct": float(error.max()) if error is not None else math.nan,
            "soc_error_rms_pct": float(np.sqrt((error ** 2).mean()))
            if error is not None else math.nan,
            "energy_true_kwh": float((self.curve.energy_wh_per_ah(soc) * capacity).sum())
            / WH_PER_KWH,
            "energy_est_kwh": estimate.energy_wh / WH_PER_KWH if estimate else math.nan,
            "charge_limit_a": limits.charge_a, "discharge_limit_a": limits.discharge_a,
            "charge_limiter": limits.charge_limiter,
            "discharge_limiter": limits.discharge_limiter,
            "balancing_cells": report.bleeding_cells,
            "capacity_health_min_pct": estimate.capacity_ratio_min * PCT
            if estimate else math.nan,
            "resistance_max_pct": estimate.resistance_ratio_max * PCT if estimate else math.nan,
            "faults": ";".join(fatal),
        }
        if self.cell_columns:
            names = [f"m{m}_c{c}" for m in range(self.settings.pack.modules)
                     for c in range(self.settings.pack.cells_per_module)]
            for index, name in enumerate(names):
                row[f"v_{name}"] = float(volts[index])
                row[f"soc_true_{name}"] = float(soc[index]) * PCT
                row[f"soc_est_{name}"] = float(estimated[index]) * PCT
        return row
