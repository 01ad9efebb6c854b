"""The site's own telemetry: ``<site.prefix>/<site.name>/state``, a msgpack map with ``v``
and ``t`` like the packs' (master/telemetry/payloads.py; docs/site.md lists the keys)."""

from __future__ import annotations

import math
from typing import Any

from master.telemetry.payloads import pack_bytes
from sitectl.packs import Extreme
from sitectl.report import SiteReport


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _pair(pair: tuple[Extreme, Extreme] | None) -> dict[str, Any] | None:
    return None if pair is None else {"max": pair[0].payload(), "min": pair[1].payload()}


def site_topic(prefix: str, name: str) -> str:
    return f"{prefix}/{name}/state"


def site_payload(report: SiteReport) -> bytes:
    return pack_bytes({
        "t": report.time_s,
        "packs_online": report.online,
        "packs_connected": report.connected,
        "charge_a": round(report.charge_a, 2),
        "discharge_a": round(report.discharge_a, 2),
        "charge_limiter": report.charge_limiter,
        "discharge_limiter": report.discharge_limiter,
        "steering": report.steering,
        "steering_reason": report.steering_reason,
        "voltage_v": _round(report.voltage_v, 2),
        "current_a": round(report.current_a, 2),
        "soc_pct": _round(report.soc_pct, 2),
        "soe_kwh": _round(report.soe_kwh, 3),
        "soh_pct": _round(report.soh_pct, 2),
        "capacity_ah": round(report.capacity_ah, 2),
        "voltage_max_v": _round(report.voltage_max_v, 2),
        "voltage_min_v": _round(report.voltage_min_v, 2),
        "cell_voltage_mv": _pair(report.cell_voltage_mv),
        "temperature_degc": _pair(report.temperature_degc),
        "warnings": list(report.warnings),
        "packs": [{"name": s.name, "role": s.role, "reason": s.reason,
                   "state": s.view.state, "voltage_v": _round(s.view.voltage_v, 2),
                   "current_a": round(s.view.current_a, 2), "soc_pct": s.view.soc_pct,
                   "charge_limit_a": s.view.charge_limit_a,
                   "discharge_limit_a": s.view.discharge_limit_a,
                   "share": _round(s.share, 4), "faults": list(s.view.faults),
                   "warnings": list(s.view.warnings)} for s in report.packs],
        "notes": [[t, text] for t, text in report.notes[-10:]],
    })
