"""The live terminal view of a running pack (rich): one row per module, the pack on top."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dbc.frames import ModuleFault
from dbc.vehicle_frames import BmsStatus
from sim.observer import Link, PackView

_LINK_STYLE = {
    Link.ONLINE: "green",
    Link.STALE: "yellow",
    Link.LOST: "bold red",
    Link.WAITING: "dim",
}


def _mv(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _link(state: Link | None) -> Text:
    if state is None:
        return Text("-", style="dim")
    return Text(state.value, style=_LINK_STYLE[state])


def _faults(bits: int) -> str:
    names = [f.name.lower() for f in ModuleFault if f and f.value & bits and f.name]
    return ",".join(names) if names else "-"


def render(view: PackView, title: str) -> Group:
    summary = view.master_summary
    pack = Table.grid(padding=(0, 3))
    for _ in range(4):
        pack.add_column()
    pack.add_row(
        f"sum of cells [bold]{_v(view.sum_of_cells_v)}[/]",
        f"sensor U1 [bold]{_v(view.sensor_voltage_v)}[/]",
        f"current [bold]{'-' if view.current_a is None else f'{view.current_a:+.1f} A'}[/]",
        f"master [bold]{view.master_state.name if view.master_state else 'silent'}[/]",
    )
    status, request = view.bms_status, view.vcu_request
    contactors = "-"
    if status is not None:
        c = status.contactors
        contactors = " ".join(f"{name} [{'bold green' if on else 'dim'}]"
                              f"{'closed' if on else 'open'}[/]" for name, on in
                              (("main+", c.main_plus), ("main-", c.main_minus),
                               ("pre", c.precharge)))
    pack.add_row(
        f"contactors {contactors}",
        f"DC link [bold]{_v(view.bus_voltage_v)}[/]",
        f"VCU asks [bold]{request.requested.name.lower() if request else '-'}[/]",
        _faults_line(status),
    )
    pack.add_row(
        f"bus load [bold]{view.bus_load * 100:.1f} %[/] (worst case)",
        f"[bold]{view.frames_per_s:.0f}[/] frames/s",
        "master sees "
        + (f"{summary.modules_online} online, {summary.modules_stale} stale, "
           f"{summary.modules_lost} lost" if summary else "-"),
        f"master E2E errors {summary.e2e_errors if summary else '-'}; "
        f"undecodable {view.unknown_frames}",
    )
    modules = Table(expand=False, header_style="bold")
    for column in ("module", "link", "master says", "min mV", "max mV", "avg mV", "max degC",
                   "frames", "E2E err", "lost", "bleeding", "faults"):
        modules.add_column(column, justify="right" if column not in ("faults",) else "left")
    for m in view.modules:
        modules.add_row(
            str(m.module_id), _link(m.link), _link(m.master_link),
            _mv(m.min_cell_mv), _mv(m.max_cell_mv), _mv(m.avg_cell_mv),
            "-" if m.max_temperature_degc is None else f"{m.max_temperature_degc:.1f}",
            str(m.frames),
            Text(str(m.e2e_errors), style="red" if m.e2e_errors else ""),
            str(m.e2e_lost_frames),
            str(bin(m.balancing_mask).count("1")),
            _faults(m.faults),
        )
    header = (f"{title}   t = {view.elapsed_s:.0f} s   Ctrl-C stops every process; "
              "`bms inject --help` breaks things")
    return Group(Panel(pack, title=header, title_align="left"), modules)


def _faults_line(status: BmsStatus | None) -> str:
    if status is None:
        return "faults -"
    if status.fault_groups:
        text = f"[bold red]faults {', '.join(sorted(status.fault_groups))}[/]"
        if status.reset_required:
            text += " (reset required)"
        return text
    if status.warning_groups:
        return f"[yellow]warnings {', '.join(sorted(status.warning_groups))}[/]"
    return "[green]no faults[/]"


def _v(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} V"


def progress_line(view: PackView) -> str:
    """One line for headless runs."""
    online = sum(1 for m in view.modules if m.link is Link.ONLINE)
    errors = sum(m.e2e_errors for m in view.modules)
    state = view.master_state.name if view.master_state else "silent"
    return (f"t={view.elapsed_s:5.0f}s  modules online {online}/{len(view.modules)}  "
            f"master {state}  {view.frames_per_s:6.0f} frames/s  bus load "
            f"{view.bus_load * 100:4.1f} %  E2E errors {errors}")
