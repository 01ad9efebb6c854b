"""Master telemetry for the SunSpec tests: a real PackReport (master/report.py) of a small
pack, set up cell by cell, turned into the payloads the master publishes by the master's
own builders (master/telemetry/payloads.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bms.settings import Settings, load_settings
from dbc.frames import Contactors, MasterState
from master.pack_state import PackSummary
from master.report import (
    ActiveEntry,
    CellSnapshot,
    CountersReport,
    EstimateReport,
    LimitsReport,
    PackReport,
)
from master.slave_registry import LinkState
from master.telemetry.payloads import (
    Topics,
    cells_payload,
    limits_payload,
    online_payload,
    state_payload,
)
from web.model import SiteModel

PACK = "site-1"
MODULES, CELLS, SENSORS = 2, 4, 3
T0 = 1_764_000_000.0
CLOSED = Contactors(main_plus=True, main_minus=True, precharge=False)


def settings(*overrides: str) -> Settings:
    return load_settings(None, [f"pack.name={PACK}", f"pack.modules={MODULES}",
                                f"pack.cells_per_module={CELLS}",
                                f"pack.temperature_sensors_per_module={SENSORS}",
                                *overrides])


# module 1 (index 0): 3.601..3.606 V; module 2: 3.595, 3.650 (the highest), an invalid
# cell, 3.580 (the lowest); no mean falls on a rounding tie
VOLTAGES_MV = ((3601.0, 3602.0, 3603.0, 3606.0), (3595.0, 3650.0, None, 3580.0))
TEMPERATURES = ((24.5, 26.2, 25.0), (23.0, None, 31.0))
SOC = (0.61, 0.62, 0.63, 0.64, 0.60, 0.70, 0.65, 0.55)


def report(**changes: Any) -> PackReport:
    """A pack in NORMAL, contactors closed, discharging 12.5 A at 28.9 V."""
    cells = CellSnapshot(VOLTAGES_MV, ((0.0,) * CELLS,) * MODULES, TEMPERATURES, SOC,
                         (0.01,) * 8, (5.0,) * 8, (0.02,) * 8)
    estimate = EstimateReport(soc_min=0.55, soc_max=0.70, soc_avg=0.625, soc_usable=0.5812,
                              soc_sigma_max=0.02, energy_wh=420.0, capacity_ratio_min=0.973,
                              resistance_ratio_max=1.1, weakest_cell=(1, 3))
    base = PackReport(
        time_s=100.0, state=MasterState.NORMAL, error_cause=None,
        contactors_commanded=CLOSED, contactors_feedback=CLOSED,
        voltage_v=28.87, current_a=-12.5, current_measured_a=-12.5,
        summary=PackSummary(8, 7, None, None, None, None, None, None, 6, 5),
        estimate=estimate,
        limits=LimitsReport(charge_a=9.5, discharge_a=31.25, charge_w=280.0,
                            discharge_w=900.0, charge_limiter="temperature",
                            discharge_limiter="maximum", voltage_max_v=33.2,
                            voltage_min_v=24.0),
        fault_reason=0, fault_groups=frozenset(), warning_groups=frozenset(),
        reset_required=False, closing_blocked=None, charge_complete=False,
        balancing_allowed=True, modules_online=2, modules_stale=0, modules_lost=0,
        online_mask=3, stale_mask=0, lost_mask=0, e2e_errors_total=0, charge_phase=None,
        frames_received=1000, modules=MODULES, cells_per_module=CELLS,
        sensors_per_module=SENSORS, cells=cells,
        counters=CountersReport(0.0, 0.0, 0.0, 0.0), faults=(), warnings=(),
        balancing_masks=(0b0101, 0b0010), bleeding_cells=3,
        links=(LinkState.ONLINE,) * MODULES, unheard_modules=(), e2e_errors=(0,) * MODULES)
    return dataclasses.replace(base, **changes)


def entry(name: str) -> ActiveEntry:
    return ActiveEntry(name, None, None, 0.0)


def messages(r: PackReport, wall_s: float = T0, pack: str = PACK) -> list[tuple[str, bytes]]:
    topics = Topics("bms", pack)
    return [(topics.online, online_payload(True, wall_s)),
            (topics.state, state_payload(r, wall_s)),
            (topics.cells, cells_payload(r, wall_s)),
            (topics.limits, limits_payload(r, wall_s))]


def site(r: PackReport, wall_s: float = T0) -> SiteModel:
    model = SiteModel("bms")
    for topic, payload in messages(r, wall_s):
        model.apply(topic, payload)
    return model
