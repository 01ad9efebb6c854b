"""The published model of the master: one frozen report of the pack at an instant.

Every reader reads this and only this: the CAN status frames (`status_frames.py`), the
MQTT payloads, the store's freeze frames, the scenario time series, the re-simulation of a
log, the benchmarks and the coming web and site layers. It is the schema the telemetry
publishes (docs/architecture.md). `MasterCore.report(now_s)` builds it when asked for (the
core itself in a tick where a status frame is due), so a control loop that nobody reads
pays nothing for it.

Cell arrays read flat, module after module (index = module x cells_per_module + cell); None
marks a value that is invalid or was never received.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
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
    soc_sigma_max: float  # the least certain cell's SOC 1-sigma
    energy_wh: float
    capacity_ratio_min: float  # SOH: the weakest cell's capacity against nominal
    resistance_ratio_max: float
    weakest_cell: tuple[int, int]  # (module, cell) of the lowest capacity ratio


@dataclass(frozen=True)
class LimitsReport:
    charge_a: float
    discharge_a: float
    charge_w: float
    discharge_w: float
    charge_limiter: str
    discharge_limiter: str
    voltage_max_v: float  # every cell at the charge ceiling: the inverter's charge voltage
    voltage_min_v: float


@dataclass(frozen=True)
class CountersReport:
    charged_ah: float
    discharged_ah: float
    charged_wh: float
    discharged_wh: float


@dataclass(frozen=True)
class CellSnapshot:
    """Every cell's values as they were at the report's instant, kept as the rows they are
    stored in; the report flattens them when first read (the status frames, built from the
    report several times a second, never read them)."""

    voltages_mv: tuple[tuple[float | None, ...], ...]
    received_s: tuple[tuple[float, ...], ...]
    temperatures_degc: tuple[tuple[float | None, ...], ...]
    soc: tuple[float, ...]
    soc_sigma: tuple[float, ...]
    capacity_ah: tuple[float, ...]
    r0_ohm: tuple[float, ...]


@dataclass(frozen=True)
class PackStatus:
    """The pack as a whole: what the CAN status frames tell the VCU and the pack bus. The
    core builds one in every tick where a status frame is due (ten a second): it holds no
    per-cell or per-module array."""

    time_s: float
    state: MasterState
    error_cause: str | None  # the fatal entry that put the master in ERROR, until the reset
    contactors_commanded: Contactors
    contactors_feedback: Contactors | None  # None: no feedback received yet
    voltage_v: float  # the sensor's, else the sum of the cells
    current_a: float  # positive charges; 0 without a reading
    current_measured_a: float | None  # the sensor's (its learned zero removed), if any
    summary: PackSummary  # extremes with their location, over fresh values
    estimate: EstimateReport | None
    limits: LimitsReport
    fault_reason: int  # what BmsStatus tells the VCU (vehicle.dbc FaultReason)
    fault_groups: frozenset[str]  # the groups of the active fatal entries and of the cause
    warning_groups: frozenset[str]
    reset_required: bool  # in ERROR with nothing fatal active: waiting for a reset
    closing_blocked: str | None  # why the contactors may not close now, None: they may
    charge_complete: bool  # the charger's CC-CV charge has ended
    balancing_allowed: bool
    modules_online: int
    modules_stale: int
    modules_lost: int
    online_mask: int  # bit m: module m's link is online
    stale_mask: int
    lost_mask: int
    e2e_errors_total: int  # every failed E2E check since the start
    charge_phase: str | None  # the charger's, when one is configured
    frames_received: int


@dataclass(frozen=True)
class PackReport(PackStatus):
    """The status and every cell and module: what the readers outside the core read."""

    modules: int
    cells_per_module: int
    sensors_per_module: int
    cells: CellSnapshot  # read through the flat properties below
    counters: CountersReport
    faults: tuple[ActiveEntry, ...]  # fatal, in the order they became active
    warnings: tuple[ActiveEntry, ...]
    balancing_masks: tuple[int, ...]  # per module, the cells the plan bleeds
    bleeding_cells: int
    links: tuple[LinkState, ...]  # per module
    unheard_modules: tuple[int, ...]  # never a valid frame since the start
    e2e_errors: tuple[int, ...]  # per module: failed E2E checks in its current window

    @cached_property
    def cell_voltages_mv(self) -> tuple[float | None, ...]:
        return tuple(v for row in self.cells.voltages_mv for v in row)

    @cached_property
    def cell_ages_s(self) -> tuple[float | None, ...]:
        """Since each value was received (None: never)."""
        now_s = self.time_s
        return tuple(None if t == float("-inf") else now_s - t
                     for row in self.cells.received_s for t in row)

    @cached_property
    def temperatures_degc(self) -> tuple[float | None, ...]:
        return tuple(v for row in self.cells.temperatures_degc for v in row)

    @property
    def cell_soc(self) -> tuple[float, ...]:
        """The estimator's state (0..1), also before its first estimate."""
        return self.cells.soc

    @property
    def cell_soc_sigma(self) -> tuple[float, ...]:
        """Its 1-sigma (0..1): the truth is inside 3 sigma (docs/estimation.md)."""
        return self.cells.soc_sigma

    @property
    def cell_capacity_ah(self) -> tuple[float, ...]:
        """As the health tracker has learnt them."""
        return self.cells.capacity_ah

    @property
    def cell_r0_ohm(self) -> tuple[float, ...]:
        """At 25 degC."""
        return self.cells.r0_ohm


def _entries(core: MasterCore, severity: Severity) -> tuple[ActiveEntry, ...]:
    return tuple(ActiveEntry(entry.name.lower(), location.module, location.element,
                             state.since_s)
                 for entry, location, state in core.engine.active(severity))


def build_status(core: MasterCore, now_s: float) -> PackStatus:
    """The status of ``core`` at ``now_s`` (`MasterCore.status`)."""
    algorithms = core.algorithms
    estimate, limits = algorithms.estimate, algorithms.limits
    engine = core.engine
    voltage_v, current_a = core.pack_values(now_s)
    high_v, low_v = core.pack_voltage_limits_v()
    charger = core.endpoints.charger
    fatal = engine.active(Severity.FATAL)
    cause = core.error_cause
    reason = fatal[0][0] if fatal else cause
    groups = {engine.table[entry].group for entry, _, _ in fatal}
    if cause is not None:
        groups.add(engine.table[cause].group)
    (online, stale, lost), (online_mask, stale_mask, lost_mask) = core.registry.summary()
    return PackStatus(
        time_s=now_s,
        state=core.state,
        error_cause=cause.name.lower() if cause is not None else None,
        contactors_commanded=core.machine.command,
        contactors_feedback=core.feedback.contactors if core.feedback is not None else None,
        voltage_v=voltage_v,
        current_a=current_a,
        current_measured_a=core.pack_current_a.value if core.pack_current_a else None,
        summary=core.summary(now_s),
        estimate=None if estimate is None else EstimateReport(
            estimate.soc_min, estimate.soc_max, estimate.soc_avg, estimate.soc_usable,
            estimate.soc_sigma_max, estimate.energy_wh, estimate.capacity_ratio_min,
            estimate.resistance_ratio_max, estimate.weakest_cell),
        limits=LimitsReport(limits.charge_a, limits.discharge_a, limits.charge_w,
                            limits.discharge_w, limits.charge_limiter.name.lower(),
                            limits.discharge_limiter.name.lower(), high_v, low_v),
        fault_reason=int(reason) if reason is not None else 0,
        fault_groups=frozenset(g.value for g in groups),
        warning_groups=frozenset(g.value for g in engine.groups(Severity.WARNING)),
        reset_required=core.state is MasterState.ERROR and not fatal,
        closing_blocked="a fatal entry is active" if fatal else core.closing_blocked(),
        charge_complete=core.endpoints.charge_complete,
        balancing_allowed=algorithms.plan.allowed,
        modules_online=online, modules_stale=stale, modules_lost=lost,
        online_mask=online_mask, stale_mask=stale_mask, lost_mask=lost_mask,
        e2e_errors_total=core.receiver.e2e_errors,
        charge_phase=charger.phase.value if charger is not None else None,
        frames_received=core.statistics.frames_received,
    )


def build_report(core: MasterCore, now_s: float) -> PackReport:
    """The report of ``core`` at ``now_s`` (readers call `MasterCore.report`)."""
    status = build_status(core, now_s)
    estimator = core.algorithms.estimator
    plan = core.algorithms.plan
    cells, temperatures = core.pack.cell_mv, core.pack.temperature_degc
    counters = estimator.counters
    return PackReport(
        **vars(status),
        modules=core.modules,
        cells_per_module=cells.per_module,
        sensors_per_module=temperatures.per_module,
        cells=CellSnapshot(
            tuple(map(tuple, cells.values)), tuple(map(tuple, cells.times_s)),
            tuple(map(tuple, temperatures.values)), tuple(estimator.filter.soc.tolist()),
            tuple(estimator.filter.soc_sigma().tolist()),
            tuple(estimator.health.capacity_ah.tolist()),
            tuple(estimator.health.r0_ohm.tolist())),
        counters=CountersReport(counters.charged_ah, counters.discharged_ah,
                                counters.charged_wh, counters.discharged_wh),
        faults=_entries(core, Severity.FATAL),
        warnings=_entries(core, Severity.WARNING),
        balancing_masks=tuple(plan.masks),
        bleeding_cells=plan.bleeding_cells,
        links=tuple(link.state for link in core.registry.links),
        unheard_modules=tuple(m for m, link in enumerate(core.registry.links)
                              if link.last_valid_s is None),
        e2e_errors=core.e2e_window_errors(),
    )
