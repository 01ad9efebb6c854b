"""The live terminal view of the virtual site (rich): the site as one battery on top, one row
per pack below, and the one-line progress of headless runs. It reads a `SiteWatch` only."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sim.site_watch import SiteWatch

ROLE_STYLE = {"connected": "bold green", "joining": "yellow", "waiting": "cyan",
              "silent": "bold red", "fault": "bold red", "offline": "dim"}
NOTES_SHOWN = 4


def _number(value: Any, unit: str, digits: int = 1, signed: bool = False) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value:{'+' if signed else ''}.{digits}f} {unit}".rstrip()


def _site_rows(watch: SiteWatch) -> Group:
    report = watch.report or {}
    grid = Table.grid(padding=(0, 3))
    for _ in range(4):
        grid.add_column()
    grid.add_row(
        f"connected [bold]{report.get('packs_connected', '-')}/{len(watch.packs)}[/] "
        f"({report.get('packs_online', '-')} online)",
        f"bus [bold]{_number(report.get('voltage_v'), 'V')}[/]",
        f"current [bold]{_number(report.get('current_a'), 'A', signed=True)}[/]",
        f"SOC [bold]{_number(report.get('soc_pct'), '%')}[/]",
    )
    check, sent = watch.check, watch.last_limits_a
    grid.add_row(
        f"charge [bold]{_number(report.get('charge_a'), 'A')}[/] "
        f"({report.get('charge_limiter') or '-'})",
        f"discharge [bold]{_number(report.get('discharge_a'), 'A')}[/] "
        f"({report.get('discharge_limiter') or '-'})",
        "inverter told " + ("-" if sent is None else
                            f"[bold]{sent[0]:.1f}[/] / [bold]{sent[1]:.1f}[/] A"),
        f"frames [bold]{check.frames}[/], beyond the packs' "
        + (f"[bold red]{check.violations}[/]" if check.violations else "[green]0[/]"),
    )
    reason = str(report.get("steering_reason") or "")
    warnings = report.get("warnings") or []
    lines = Text.from_markup(
        f"steering [bold]{report.get('steering', '-')}[/]" + (f": {reason}" if reason else "")
        + "   warnings " + (f"[yellow]{', '.join(map(str, warnings))}[/]" if warnings
                            else "[green]none[/]"))
    return Group(grid, lines)


def _packs_table(watch: SiteWatch) -> Table:
    table = Table(expand=False, header_style="bold", box=box.SIMPLE_HEAD, padding=(0, 1))
    for column in ("pack", "state", "role"):
        table.add_column(column, no_wrap=True)
    for column in ("V", "A", "SOC %", "chg A", "dis A", "share"):
        table.add_column(column, justify="right", no_wrap=True)
    for name in watch.packs:
        view, entry = watch.views[name], watch.site_pack(name)
        role = str(entry.get("role", "-"))
        share = entry.get("share")
        stated, limited = view.state_t is not None, view.limits_t is not None
        table.add_row(
            name, view.state, Text(role, style=ROLE_STYLE.get(role, "")),
            _number(view.voltage_v if stated else None, ""),
            _number(view.current_a if stated else None, "", signed=True),
            _number(view.soc_pct, ""),
            _number(view.charge_limit_a if limited else None, ""),
            _number(view.discharge_limit_a if limited else None, ""),
            "-" if not isinstance(share, int | float) else f"{share * 100:.0f} %",
        )
    return table


def render(watch: SiteWatch, now_s: float, title: str) -> Group:
    header = f"{title}   t = {now_s - watch.start_s:.0f} s   Ctrl-C stops every process"
    reasons = [f"{name}: {reason}" for name in watch.packs
               if (reason := watch.site_pack(name).get("reason"))]
    notes = [f"{text}" for _, text in ((watch.report or {}).get("notes") or [])[-NOTES_SHOWN:]]
    parts: list[Any] = [Panel(_site_rows(watch), title=header, title_align="left"),
                        _packs_table(watch)]
    if reasons:
        parts.append(Text("\n".join(reasons)))
    if notes:
        parts.append(Text("\n".join(notes), style="dim"))
    return Group(*parts)


def progress_line(watch: SiteWatch, now_s: float) -> str:
    """One line for headless runs."""
    report = watch.report or {}
    roles = watch.site_roles()
    packs = ", ".join(f"{name} {role}" for name, role in roles.items())
    steering = str(report.get("steering", "-"))
    if report.get("steering_reason"):
        steering += f" ({report['steering_reason']})"
    return (f"t={now_s - watch.start_s:5.0f}s  connected {report.get('packs_connected', 0)}/"
            f"{len(watch.packs)} [{packs}]  bus {_number(report.get('voltage_v'), 'V')}  "
            f"{_number(report.get('current_a'), 'A', signed=True)}  limits "
            f"{_number(report.get('charge_a'), 'A')} / {_number(report.get('discharge_a'), 'A')}"
            f"  steering {steering}")
