"""MQTT topics and msgpack payloads of the master's telemetry (docs/endpoints.md).

Every payload is a msgpack map with ``v`` (SCHEMA_VERSION) and ``t`` (Unix time of the
master). Pure: builders take the pack's report (master/report.py) and the wall time and
return bytes.
"""

from __future__ import annotations

from typing import Any

import msgpack

from dbc.frames import OPEN
from master.report import PackReport
from master.store import StoredEvent

SCHEMA_VERSION = 1
PCT = 100.0
W_PER_KW = 1000.0
MOHM_PER_OHM = 1000.0


class Topics:
    """``<prefix>/<pack>/...``: what the master publishes, and where it takes commands."""

    def __init__(self, prefix: str, pack: str) -> None:
        base = f"{prefix}/{pack}"
        self.state = f"{base}/state"
        self.cells = f"{base}/cells"
        self.limits = f"{base}/limits"
        self.events = f"{base}/events"
        self.online = f"{base}/online"
        self.command = f"{base}/command"
        self.command_result = f"{base}/command/result"


def pack_bytes(payload: dict[str, Any]) -> bytes:
    return bytes(msgpack.packb({"v": SCHEMA_VERSION, **payload}, use_bin_type=True))


def unpack(data: bytes) -> dict[str, Any]:
    """A payload as a dict; ValueError when it is not a msgpack map."""
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError,
            TypeError) as exc:  # TypeError: a map with an array or a map as a key
        raise ValueError(f"not msgpack: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("not a msgpack map")
    return value


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def state_payload(report: PackReport, wall_s: float) -> bytes:
    estimate = report.estimate
    contactors = report.contactors_feedback or OPEN
    voltage, current = report.voltage_v, report.current_a
    return pack_bytes({
        "t": wall_s,
        "state": report.state.name,
        "contactors": {"main_plus": contactors.main_plus, "main_minus": contactors.main_minus,
                       "precharge": contactors.precharge},
        "voltage_v": round(voltage, 2),
        "current_a": round(current, 2),
        "power_kw": round(voltage * current / W_PER_KW, 3),
        "soc_pct": _round(estimate.soc_usable * PCT, 2) if estimate else None,
        "soc_min_pct": _round(estimate.soc_min * PCT, 2) if estimate else None,
        "soc_max_pct": _round(estimate.soc_max * PCT, 2) if estimate else None,
        "soc_sigma_pct": _round(estimate.soc_sigma_max * PCT, 2) if estimate else None,
        "soe_kwh": _round(estimate.energy_wh / W_PER_KW, 3) if estimate else None,
        "soh_pct": _round(estimate.capacity_ratio_min * PCT, 2) if estimate else None,
        # what a site controller shares current by (sitectl/allocation.py): the weakest
        # cell's learnt capacity (a series string's) and the cells' learnt R0 at 25 degC
        "capacity_ah": round(min(report.cell_capacity_ah), 3) if report.cell_capacity_ah
        else None,
        "resistance_mohm": round(sum(report.cell_r0_ohm) * MOHM_PER_OHM, 3),
        "faults": [e.entry for e in report.faults],
        "warnings": [e.entry for e in report.warnings],
        "fault_reason": report.fault_reason,
        "charge_phase": report.charge_phase,
        "modules_online": report.modules_online,
        "balancing": report.balancing_allowed,
    })


def cells_payload(report: PackReport, wall_s: float) -> bytes:
    """Compact arrays, module after module: None where a value is invalid or missing."""
    return pack_bytes({
        "t": wall_s,
        "modules": report.modules,
        "cells_per_module": report.cells_per_module,
        "sensors_per_module": report.sensors_per_module,
        "voltages_mv": [None if v is None else round(v) for v in report.cell_voltages_mv],
        "temperatures_degc": [_round(v, 1) for v in report.temperatures_degc],
        "balancing_masks": list(report.balancing_masks),
        "soc_pct": [round(s * PCT, 1) for s in report.cell_soc],
    })


def limits_payload(report: PackReport, wall_s: float) -> bytes:
    limits = report.limits
    return pack_bytes({
        "t": wall_s,
        "charge_a": round(limits.charge_a, 2),
        "discharge_a": round(limits.discharge_a, 2),
        "charge_kw": round(limits.charge_w / W_PER_KW, 3),
        "discharge_kw": round(limits.discharge_w / W_PER_KW, 3),
        "charge_limiter": limits.charge_limiter,
        "discharge_limiter": limits.discharge_limiter,
        "voltage_max_v": round(limits.voltage_max_v, 2),
        "voltage_min_v": round(limits.voltage_min_v, 2),
    })


def event_payload(event: StoredEvent) -> bytes:
    """An event as stored (its id is the store's: subscribers deduplicate by it)."""
    return pack_bytes({
        "id": event.id, "t": event.wall_time, "kind": event.kind, "entry": event.entry,
        "change": event.change, "severity": event.severity, "module": event.module,
        "element": event.element, "text": event.text, "freeze": event.freeze,
    })


def online_payload(online: bool, wall_s: float) -> bytes:
    return pack_bytes({"t": wall_s, "online": online})
