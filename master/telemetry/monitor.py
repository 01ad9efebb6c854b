"""What `bms monitor` knows of the packs it hears on MQTT, and how it shows them. Pure: fed
(topic, payload) pairs, rendered as rich tables or plain text."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table

from master.telemetry.payloads import SCHEMA_VERSION, unpack

EVENTS_SHOWN = 8
KINDS = ("state", "cells", "limits", "events", "online")


@dataclass
class PackView:
    name: str
    state: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    online: bool | None = None
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=EVENTS_SHOWN))
    event_ids: set[int] = field(default_factory=set)
    duplicates: int = 0


class MonitorModel:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.packs: dict[str, PackView] = {}
        self.messages = 0
        self.rejected = 0  # not msgpack, or another schema version

    def on_message(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != self.prefix or parts[2] not in KINDS:
            return  # commands, results and anything else
        try:
            message = unpack(payload)
        except ValueError:
            self.rejected += 1
            return
        if message.get("v") != SCHEMA_VERSION:
            self.rejected += 1
            return
        self.messages += 1
        pack = self.packs.setdefault(parts[1], PackView(parts[1]))
        kind = parts[2]
        if kind == "online":
            pack.online = bool(message.get("online"))
        elif kind == "events":
            event_id = message.get("id")
            if isinstance(event_id, int):
                if event_id in pack.event_ids:  # QoS 1 may deliver twice: once is shown
                    pack.duplicates += 1
                    return
                pack.event_ids.add(event_id)
            pack.events.append(message)
        else:
            setattr(pack, kind, message)

    def render(self) -> Group:
        if not self.packs:
            return Group(f"waiting for telemetry under {self.prefix}/ ...")
        return Group(*(_pack_table(pack) for pack in self.packs.values()))

    def text(self) -> str:
        """One line per pack, for logs and scripts."""
        lines = []
        for pack in self.packs.values():
            s = pack.state
            lines.append(
                f"{pack.name}: {'online' if pack.online else 'offline'} {s.get('state', '?')} "
                f"{_fmt(s.get('voltage_v'), 'V')} {_fmt(s.get('current_a'), 'A')} "
                f"SOC {_fmt(s.get('soc_pct'), '%')} faults {s.get('faults') or '-'} "
                f"events {len(pack.event_ids)}")
        return "\n".join(lines)


def _fmt(value: object, unit: str, digits: int = 1) -> str:
    return f"{value:.{digits}f} {unit}" if isinstance(value, (int, float)) else "-"


def _cells_line(cells: dict[str, Any]) -> str:
    voltages = cells.get("voltages_mv") or []
    per_module = int(cells.get("cells_per_module") or 1)
    valid = [(v, i) for i, v in enumerate(voltages) if isinstance(v, int)]
    if not valid:
        return "-"
    low, high = min(valid), max(valid)
    return (f"min {low[0]} mV (m{low[1] // per_module} c{low[1] % per_module}), "
            f"max {high[0]} mV (m{high[1] // per_module} c{high[1] % per_module}), "
            f"spread {high[0] - low[0]} mV, {len(voltages) - len(valid)} invalid")


def _pack_table(pack: PackView) -> Table:
    s, limits = pack.state, pack.limits
    online = {True: "[green]online[/]", False: "[red]offline[/]", None: "?"}[pack.online]
    table = Table(title=f"{pack.name}  {online}  {s.get('state', '?')}", show_header=False,
                  title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    contactors = s.get("contactors") or {}
    table.add_row("pack", f"{_fmt(s.get('voltage_v'), 'V')}  {_fmt(s.get('current_a'), 'A')}  "
                          f"{_fmt(s.get('power_kw'), 'kW', 2)}")
    table.add_row("contactors", " ".join(n for n, closed in contactors.items() if closed)
                  or "open")
    soc_range = f"{_fmt(s.get('soc_min_pct'), '%')}..{_fmt(s.get('soc_max_pct'), '%')}"
    sigma = s.get("soc_sigma_pct")
    spread = f" +-{3 * sigma:.1f} (3 sigma)" if isinstance(sigma, (int, float)) else ""
    table.add_row("SOC / SOH", f"{_fmt(s.get('soc_pct'), '%')}{spread} (cells {soc_range})"
                               f"  SOE {_fmt(s.get('soe_kwh'), 'kWh', 2)}"
                               f"  SOH {_fmt(s.get('soh_pct'), '%')}")
    table.add_row("cells", _cells_line(pack.cells))
    temperatures = [t for t in pack.cells.get("temperatures_degc") or [] if t is not None]
    table.add_row("temperatures", f"{min(temperatures):.1f}..{max(temperatures):.1f} degC"
                  if temperatures else "-")
    table.add_row("limits", f"charge {_fmt(limits.get('charge_a'), 'A')} "
                            f"({limits.get('charge_limiter', '-')}), discharge "
                            f"{_fmt(limits.get('discharge_a'), 'A')} "
                            f"({limits.get('discharge_limiter', '-')})")
    table.add_row("faults", ", ".join(s.get("faults") or []) or "-")
    table.add_row("warnings", ", ".join(s.get("warnings") or []) or "-")
    for event in pack.events:
        table.add_row(f"event {event.get('id', '')}", str(event.get("text", "")))
    return table
