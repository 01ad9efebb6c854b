"""The master's status frames, built from its published status (`PackStatus`, the pack-level
part of the report, `master/report.py`) and nothing else: what the VCU and the pack bus are
told is what every other reader sees.

The control frames (the contactor command, the balancing commands, the heartbeat) and the
charger's and inverter's frames are the core's and the endpoints' decisions, not reports.
"""

from __future__ import annotations

from typing import Final

from dbc.frames import (
    OPEN,
    CellVoltageExtremes,
    Frame,
    MasterSummary,
    ModulesLostMask,
    ModulesOnlineMask,
    ModulesStaleMask,
    PackAverages,
)
from dbc.vehicle_frames import (
    BmsCellVoltageExtremes,
    BmsHealth,
    BmsLimits,
    BmsPack,
    BmsPowerLimits,
    BmsSoc,
    BmsStatus,
    BmsTemperatures,
    BmsVoltageLimits,
    Limiter,
    ThermalRequest,
)
from master.pack_state import Extreme
from master.report import PackStatus

PCT: Final = 100.0
W_PER_KW: Final = 1000.0


def bms_status(report: PackStatus) -> BmsStatus:
    """Every 100 ms to the VCU: state, contactors, why closing is blocked, fault groups."""
    return BmsStatus(
        state=report.state,
        contactors=report.contactors_feedback or OPEN,
        reset_required=report.reset_required,
        closing_blocked=report.closing_blocked is not None,
        fault_reason=report.fault_reason,
        fault_groups=report.fault_groups,
        warning_groups=report.warning_groups,
        charge_complete=report.charge_complete,
    )


def limit_frames(report: PackStatus) -> list[Frame]:
    """Current, power and voltage limits, and the pack's values."""
    limits, voltage, current = report.limits, report.voltage_v, report.current_a
    return [BmsLimits(limits.charge_a, limits.discharge_a,
                      Limiter[limits.charge_limiter.upper()],
                      Limiter[limits.discharge_limiter.upper()]),
            BmsPowerLimits(limits.charge_w / W_PER_KW, limits.discharge_w / W_PER_KW),
            BmsPack(voltage, current, voltage * current / W_PER_KW),
            BmsVoltageLimits(limits.voltage_max_v, limits.voltage_min_v)]


def estimate_frames(report: PackStatus, thermal: ThermalRequest) -> list[Frame]:
    """SOC, energy and health, cell and temperature extremes (with the thermal request the
    core decided at this instant)."""
    frames: list[Frame] = []
    estimate = report.estimate
    if estimate is not None:
        module, cell = estimate.weakest_cell
        frames += [BmsSoc(estimate.soc_min * PCT, estimate.soc_max * PCT,
                          estimate.soc_avg * PCT, estimate.soc_usable * PCT),
                   BmsHealth(estimate.energy_wh / W_PER_KW, estimate.capacity_ratio_min * PCT,
                             estimate.resistance_ratio_max * PCT, module, cell)]
    s = report.summary
    low, high = s.min_cell_mv, s.max_cell_mv
    if low is not None and high is not None:
        frames.append(BmsCellVoltageExtremes(round(low.value), low.module_id, low.index,
                                             round(high.value), high.module_id, high.index))
    cold, hot = s.min_temperature_degc, s.max_temperature_degc
    if cold is not None and hot is not None:
        frames.append(BmsTemperatures(thermal, round(cold.value), cold.module_id, cold.index,
                                      round(hot.value), hot.module_id, hot.index))
    return frames


def status_pages(report: PackStatus) -> list[Frame]:
    """The pack bus's status pages: summary, extremes, averages, the link masks."""
    s = report.summary
    low, high = s.min_cell_mv, s.max_cell_mv
    hot = s.max_temperature_degc
    return [
        MasterSummary(report.state, report.modules_online, report.modules_stale,
                      report.modules_lost, s.sum_of_cells_v or 0.0, report.e2e_errors_total),
        CellVoltageExtremes(
            _int(low), low.module_id if low else 0, low.index if low else 0,
            _int(high), high.module_id if high else 0, high.index if high else 0),
        PackAverages(
            None if s.avg_cell_mv is None else round(s.avg_cell_mv),
            s.min_temperature_degc.value if s.min_temperature_degc else None,
            hot.value if hot else None, hot.module_id if hot else 0),
        ModulesOnlineMask(report.online_mask),
        ModulesStaleMask(report.stale_mask),
        ModulesLostMask(report.lost_mask),
    ]


def _int(extreme: Extreme | None) -> int | None:
    return None if extreme is None else round(extreme.value)
