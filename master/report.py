"""The published model of the master: one frozen report of the pack at an instant.

Every reader outside the core reads this and only this: the MQTT payloads, the scenario
time series, the re-simulation of a log, the benchmarks and the coming web and site
layers. It is the schema the telemetry publishes (docs/architecture.md lists its fields).
`MasterCore.report(now_s)` builds it when asked for, so a control loop that nobody reads
pays nothing for it.

Cell arrays are flat, module after module (index = module x cells_per_module + cell); None
marks a value that is invalid or was never received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbc.frames import Contactors, MasterState
from master.diagnosis.table import Severity
from master.events import Location
from master.pack_state import PackSummary
from master.slave_registry import LinkState

if TYPE_CHECKING:
    from master.core import MasterCore


@dataclass(frozen=True)
class ActiveEntry:
    """An active diagnosis entry where it is (module and element, None: the pack's)."""

    entry: str  # the DiagId's name, lower case: "cell_overvoltage_msl"
    module: int | None
    element: int | None
    since_s: float

    def __str__(self) -> str:
        return f"{self.entry}@{Location(self.module, self.element)}"


@dataclass(frozen=True)
class EstimateReport:
    """The estimator's pack figures (fractions 0..1); the per-cell values are the report's."""

    soc_min: float
    soc_max: float
    soc_avg: float
    soc_usable: float
    energy_wh: float
    capacity_ratio_min: float  # SOH: the weakest cell's capacity against nominal
    resistance_ratio_max: float


@dataclass(frozen=True)
class LimitsReport:
    charge_a: float
    discharge_a: float
    charge_w: float
    discharge_w: float
    charge_limiter: str
    discharge_limiter: str
    voltage_max_v: float  # every cell at its operating limit
    voltage_min_v: float


@dataclass(frozen=True)
class CountersReport:
    charged_ah: float
    discharged_ah: float
    charged_wh: float
    discharged_wh: float


@dataclass(frozen=True)
class PackReport:
    time_s: float
    state: MasterState
    error_cause: str | None  # the fatal entry that put the master in ERROR, until the reset
    contactors_commanded: Contactors
    contactors_feedback: Contactors | None  # None: no feedback received yet
    voltage_v: float  # the sensor's, else the sum of the cells
    current_a: float  # positive charges; 0 without a reading
    current_measured_a: float | None  # the sensor's (its learned zero removed), if any
    modules: int
    cells_per_module: int
    sensors_per_module: int
    cell_voltages_mv: tuple[float | None, ...]
    cell_ages_s: tuple[float | None, ...]  # since each value was received
    temperatures_degc: tuple[float | None, ...]
    cell_soc: tuple[float, ...]  # the estimator's state (0..1), also before its first estimate
    cell_capacity_ah: tuple[float, ...]  # as the health tracker has learnt them
    cell_r0_ohm: tuple[float, ...]  # at 25 degC
    summary: PackSummary  # extremes with their location, over fresh values
    estimate: EstimateReport | None
    limits: LimitsReport
    counters: CountersReport
    faults: tuple[ActiveEntry, ...]  # fatal, in the order they became active
    warnings: tuple[ActiveEntry, ...]
    fault_reason: int  # what BmsStatus tells the VCU (vehicle.dbc FaultReason)
    balancing_allowed: bool
    balancing_masks: tuple[int, ...]  # per module, the cells the plan bleeds
    bleeding_cells: int
    links: tuple[LinkState, ...]  # per module
    modules_online: int
    unheard_modules: tuple[int, ...]  # never a valid frame since the start
    e2e_errors: tuple[int, ...]  # per module: failed E2E checks in its current window
    charge_phase: str | None  # the charger's, when one is configured
    frames_received: int


def _entries(core: MasterCore, severity: Severity) -> tuple[ActiveEntry, ...]:
    return tuple(ActiveEntry(entry.name.lower(), location.module, location.element,
                             state.since_s)
                 for entry, location, state in core.engine.active(severity))


def build_report(core: MasterCore, now_s: float) -> PackReport:
    """The report of ``core`` at ``now_s`` (readers call `MasterCore.report`)."""
    algorithms = core.algorithms
    estimate, limits = algorithms.estimate, algorithms.limits
    estimator = algorithms.estimator
    status = core.bms_status()
    voltage_v, current_a = core.pack_values(now_s)
    high_v, low_v = core.pack_voltage_limits_v()
    cells, temperatures = core.pack.cell_mv, core.pack.temperature_degc
    counters = estimator.counters
    charger = core.endpoints.charger
    return PackReport(
        time_s=now_s,
        state=core.state,
        error_cause=core.error_cause.name.lower() if core.error_cause is not None else None,
        contactors_commanded=core.machine.command,
        contactors_feedback=core.feedback.contactors if core.feedback is not None else None,
        voltage_v=voltage_v,
        current_a=current_a,
        current_measured_a=core.pack_current_a.value if core.pack_current_a else None,
        modules=core.modules,
        cells_per_module=cells.per_module,
        sensors_per_module=temperatures.per_module,
        cell_voltages_mv=tuple(v for row in cells.values for v in row),
        cell_ages_s=tuple(None if t == float("-inf") else now_s - t
                          for row in cells.times_s for t in row),
        temperatures_degc=tuple(v for row in temperatures.values for v in row),
        cell_soc=tuple(float(x) for x in estimator.filter.soc),
        cell_capacity_ah=tuple(float(x) for x in estimator.health.capacity_ah),
        cell_r0_ohm=tuple(float(x) for x in estimator.health.r0_ohm),
        summary=core.summary(now_s),
        estimate=None if estimate is None else EstimateReport(
            estimate.soc_min, estimate.soc_max, estimate.soc_avg, estimate.soc_usable,
            estimate.energy_wh, estimate.capacity_ratio_min, estimate.resistance_ratio_max),
        limits=LimitsReport(limits.charge_a, limits.discharge_a, limits.charge_w,
                            limits.discharge_w, limits.charge_limiter.name.lower(),
                            limits.discharge_limiter.name.lower(), high_v, low_v),
        counters=CountersReport(counters.charged_ah, counters.discharged_ah,
                                counters.charged_wh, counters.discharged_wh),
        faults=_entries(core, Severity.FATAL),
        warnings=_entries(core, Severity.WARNING),
        fault_reason=status.fault_reason,
        balancing_allowed=algorithms.plan.allowed,
        balancing_masks=tuple(algorithms.plan.masks),
        bleeding_cells=algorithms.plan.bleeding_cells,
        links=tuple(link.state for link in core.registry.links),
        modules_online=core.registry.count(LinkState.ONLINE),
        unheard_modules=tuple(m for m, link in enumerate(core.registry.links)
                              if link.last_valid_s is None),
        e2e_errors=core.e2e_window_errors(),
        charge_phase=charger.phase.value if charger is not None else None,
        frames_received=core.statistics.frames_received,
    )
