"""MQTT topics and msgpack payloads of the master's telemetry (schema in the README).

Every payload is a msgpack map with ``v`` (SCHEMA_VERSION) and ``t`` (Unix time of the
master). Pure: builders take the core and the wall time and return bytes.
"""

from __future__ import annotations

from typing import Any

import msgpack

from master.core import MasterCore
from master.diagnosis.table import Severity
from master.slave_registry import LinkState
from master.store import StoredEvent

SCHEMA_VERSION = 1
PCT = 100.0
W_PER_KW = 1000.0


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


def state_payload(core: MasterCore, now_s: float, wall_s: float) -> bytes:
    estimate = core.algorithms.estimate
    voltage, current = core.pack_values(now_s)
    status = core.bms_status()
    contactors = status.contactors
    charger = core.endpoints.charger
    return pack_bytes({
        "t": wall_s,
        "state": core.state.name,
        "contactors": {"main_plus": contactors.main_plus, "main_minus": contactors.main_minus,
                       "precharge": contactors.precharge},
        "voltage_v": round(voltage, 2),
        "current_a": round(current, 2),
        "power_kw": round(voltage * current / W_PER_KW, 3),
        "soc_pct": _round(estimate.soc_usable * PCT, 2) if estimate else None,
        "soc_min_pct": _round(estimate.soc_min * PCT, 2) if estimate else None,
        "soc_max_pct": _round(estimate.soc_max * PCT, 2) if estimate else None,
        "soe_kwh": _round(estimate.energy_wh / W_PER_KW, 3) if estimate else None,
        "soh_pct": _round(estimate.capacity_ratio_min * PCT, 2) if estimate else None,
        "faults": [e.name.lower() for e, _, _ in core.engine.active(Severity.FATAL)],
        "warnings": [e.name.lower() for e, _, _ in core.engine.active(Severity.WARNING)],
        "fault_reason": status.fault_reason,
        "charge_phase": charger.phase.value if charger is not None else None,
        "modules_online": core.registry.count(LinkState.ONLINE),
        "balancing": core.algorithms.plan.allowed,
    })


def cells_payload(core: MasterCore, wall_s: float) -> bytes:
    """Compact arrays, module after module: None where a value is invalid or missing."""
    pack = core.pack
    return pack_bytes({
        "t": wall_s,
        "modules": core.modules,
        "cells_per_module": pack.cell_mv.per_module,
        "sensors_per_module": pack.temperature_degc.per_module,
        "voltages_mv": [None if v is None else round(v) for row in pack.cell_mv.values
                        for v in row],
        "temperatures_degc": [_round(v, 1) for row in pack.temperature_degc.values for v in row],
        "balancing_masks": list(core.algorithms.plan.masks),
    })


def limits_payload(core: MasterCore, wall_s: float) -> bytes:
    limits = core.algorithms.limits
    high_v, low_v = core.pack_voltage_limits_v()
    return pack_bytes({
        "t": wall_s,
        "charge_a": round(limits.charge_a, 2),
        "discharge_a": round(limits.discharge_a, 2),
        "charge_kw": round(limits.charge_w / W_PER_KW, 3),
        "discharge_kw": round(limits.discharge_w / W_PER_KW, 3),
        "charge_limiter": limits.charge_limiter.name.lower(),
        "discharge_limiter": limits.discharge_limiter.name.lower(),
        "voltage_max_v": round(high_v, 2),
        "voltage_min_v": round(low_v, 2),
    })


def event_payload(event: StoredEvent) -> bytes:
    """An event as stored (its id is the store's: subscribers deduplicate by it)."""
    return pack_bytes({
        "id": event.id, "t": event.wall_time, "kind": event.kind, "entry": event.entry,
        "change": event.change, "severity": event.severity, "module": event.module,
        "element": event.element, "text": event.text,
    })


def online_payload(online: bool, wall_s: float) -> bytes:
    return pack_bytes({"t": wall_s, "online": online})
