"""Telemetry messages as rows: pure, no I/O. ``<prefix>/<pack>/<kind>`` and the master's
msgpack payload (master/telemetry/payloads.py) in; a `Row` of one table out, or None for what
is not stored (a topic of no table, a sample the downsampling keeps out) and a reason for what
cannot be read."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from master.telemetry.payloads import unpack

TABLES = ("state", "cells", "limits", "events", "online")


@dataclass(frozen=True)
class Row:
    table: str
    pack: str
    t: float  # the master's Unix time
    values: dict[str, Any]  # the table's other columns

    @property
    def key(self) -> tuple[str, str, float | int]:
        """What a resend repeats: (pack, t), events (pack, id)."""
        return (self.table, self.pack, self.values["id"] if self.table == "events" else self.t)


class BadMessageError(ValueError):
    """A message on a telemetry topic that is no telemetry payload."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _columns(kind: str, p: dict[str, Any]) -> dict[str, Any]:
    if kind == "state":
        contactors = p.get("contactors") or {}
        return {"state": _text(p.get("state")),
                "contactors_closed": bool(contactors.get("main_plus"))
                and bool(contactors.get("main_minus")),
                **{k: _number(p.get(k)) for k in (
                    "voltage_v", "current_a", "power_kw", "soc_pct", "soc_min_pct",
                    "soc_max_pct", "soc_sigma_pct", "soe_kwh", "soh_pct")},
                "faults": json.dumps(p.get("faults") or []),
                "warnings": json.dumps(p.get("warnings") or []),
                "fault_reason": p.get("fault_reason") if isinstance(p.get("fault_reason"), int)
                else None,
                "modules_online": p.get("modules_online")
                if isinstance(p.get("modules_online"), int) else None}
    if kind == "cells":
        volts = [v for v in p.get("voltages_mv") or [] if _number(v) is not None]
        temps = [v for v in p.get("temperatures_degc") or [] if _number(v) is not None]
        return {"modules": p.get("modules"), "cells_per_module": p.get("cells_per_module"),
                "cell_min_mv": min(volts, default=None), "cell_max_mv": max(volts, default=None),
                "cell_spread_mv": max(volts) - min(volts) if volts else None,
                "temperature_min_degc": min(temps, default=None),
                "temperature_max_degc": max(temps, default=None),
                "voltages_mv": json.dumps(p.get("voltages_mv") or []),
                "temperatures_degc": json.dumps(p.get("temperatures_degc") or []),
                "balancing_masks": json.dumps(p.get("balancing_masks") or [])}
    if kind == "limits":
        return {**{k: _number(p.get(k)) for k in (
            "charge_a", "discharge_a", "charge_kw", "discharge_kw", "voltage_max_v",
            "voltage_min_v")},
            "charge_limiter": _text(p.get("charge_limiter")),
            "discharge_limiter": _text(p.get("discharge_limiter"))}
    if kind == "events":
        if not isinstance(p.get("id"), int):
            raise BadMessageError("an event without an integer id")
        return {"id": p["id"], **{k: _text(p.get(k)) for k in (
            "kind", "entry", "change", "severity", "text")},
            "module": p.get("module") if isinstance(p.get("module"), int) else None,
            "element": p.get("element") if isinstance(p.get("element"), int) else None}
    return {"online": bool(p.get("online"))}


def to_row(topic: str, payload: bytes, prefix: str = "bms") -> Row | None:
    """The row of one message; None for a topic of no table (commands, their results);
    `BadMessageError` for a payload that is not the master's."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != prefix or parts[2] not in TABLES:
        return None
    _, pack, kind = parts
    try:
        p = unpack(payload)
    except ValueError as exc:
        raise BadMessageError(f"{topic}: {exc}") from None
    t = _number(p.get("t"))
    if t is None:
        raise BadMessageError(f"{topic}: no time")
    return Row(kind, pack, t, _columns(kind, p))


@dataclass
class Downsampler:
    """Keeps one row per pack every ``period_s`` of the master's time for the tables given
    (cells, limits: live, frequent, and large); every row of the others."""

    periods_s: dict[str, float]
    _last: dict[tuple[str, str], float] = field(default_factory=dict)

    def keep(self, row: Row) -> bool:
        period = self.periods_s.get(row.table, 0.0)
        if period <= 0:
            return True
        last = self._last.get((row.table, row.pack))
        if last is not None and row.t < last:
            return True  # a resend from before: the database keeps it once
        if last is not None and row.t < last + period:
            return False
        self._last[(row.table, row.pack)] = row.t
        return True
