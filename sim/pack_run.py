"""`bms pack`: the virtual pack with a live view, or headless for a fixed time.

Exit codes: 0 all went well; 1 a child died, or (headless) the pack was not healthy at the
end (a module not online, the master silent or in ERROR, more E2E errors than allowed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from bms.can_port import CanPort
from bms.netns import only_loopback_network
from bms.service import write_json_atomically
from bms.settings import Settings, bus_kwargs, inverter_bus
from dbc.frames import MasterState
from sim import broker
from sim.launcher import ChildExit, DashboardPlan, Launcher
from sim.live_view import progress_line, render
from sim.observer import Link, PackObserver, PackView
from web.auth import add_user

VIEW_PERIOD_S = 0.25
PROGRESS_PERIOD_S = 5.0


@dataclass(frozen=True)
class PackOptions:
    config_args: list[str]
    run_dir: Path
    duration_s: float | None
    headless: bool
    keep_going: bool  # a child that dies is reported, the pack keeps running
    max_e2e_errors: int
    summary_path: Path | None
    web: bool = True
    web_port: int = 8080


def describe_buses(settings: Settings) -> list[str]:
    lines = []
    buses = ["pack", "vehicle", "sim"] + (["inverter"] if inverter_bus(settings) == "inverter"
                                          else [])
    for name in buses:
        kwargs = bus_kwargs(settings, name)
        call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        extra = [f"{k}={v}" for k, v in kwargs.items()
                 if k not in ("interface", "channel", "bitrate")]
        cli = f"-i {kwargs['interface']} -c {kwargs['channel']}"
        if "bitrate" in kwargs:
            cli += f" -b {kwargs['bitrate']}"
        if extra:
            cli += " --bus-kwargs " + " ".join(extra)
        lines.append(f"{name} bus: can.Bus({call})")
        lines.append(f"    python-can tools: can_viewer {cli}")
    if only_loopback_network():
        lines.append(f"this pack runs in a network namespace with only loopback; attach from "
                     f"outside with nsenter --net=/proc/{os.getpid()}/ns/net <command>")
    return lines


def health_problems(view: PackView, max_e2e_errors: int) -> list[str]:
    problems = []
    offline = [m.module_id for m in view.modules if m.link is not Link.ONLINE]
    if offline:
        problems.append(f"modules not online on the bus: {offline}")
    not_online_for_master = [m.module_id for m in view.modules
                             if m.master_link is not Link.ONLINE]
    if not_online_for_master:
        problems.append(f"the master does not see modules {not_online_for_master} online")
    if view.master_state is None:
        problems.append("the master is silent")
    elif view.master_state is MasterState.ERROR:
        problems.append("the master is in ERROR")
    errors = sum(m.e2e_errors for m in view.modules)
    if errors > max_e2e_errors:
        problems.append(f"{errors} E2E errors (allowed {max_e2e_errors})")
    return problems


async def run_pack(settings: Settings, options: PackOptions) -> int:
    console = Console(stderr=False)
    for line in describe_buses(settings):
        console.print(line, highlight=False, markup=False)
    console.print(f"run directory (logs, counters): {options.run_dir}", highlight=False)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    dashboard, url = _dashboard(options, console)
    launcher = Launcher(settings, options.config_args, options.run_dir, dashboard)
    deaths: list[ChildExit] = []
    started = time.monotonic()
    async with CanPort(bus_kwargs(settings, "pack"), "pack/observer") as port, \
            CanPort(bus_kwargs(settings, "vehicle"), "vehicle/observer") as vehicle, \
            contextlib.AsyncExitStack() as stack:
        observer = PackObserver(settings, loop.time())
        port.subscribe(observer.on_frame)
        vehicle.subscribe(observer.on_vehicle_frame)
        if inverter_bus(settings) == "inverter":  # else its frames come on the vehicle bus
            inverter = await stack.enter_async_context(
                CanPort(bus_kwargs(settings, "inverter"), "inverter/observer"))
            inverter.subscribe(observer.on_inverter_frame)
        try:
            console.print("starting the plant and the peers; the master once they are heard",
                          highlight=False)
            missing = await launcher.start(observer.unheard, stop=stop)
            if missing and not stop.is_set():
                console.print(f"[yellow]starting the master without having heard "
                              f"{_first_few(missing)}[/]")
            title = (f"{settings.pack.name}: {settings.pack.modules} x "
                     f"{settings.pack.cells_per_module} {settings.pack.chemistry.value}"
                     + (f"  ·  dashboard {url}" if url else ""))
            deadline = None if options.duration_s is None else loop.time() + options.duration_s
            if options.headless:
                await _headless(observer, launcher, stop, deadline, options, deaths, console)
            else:
                await _live(observer, launcher, stop, deadline, options, deaths, title, console)
            view = observer.view(loop.time())
        finally:
            await launcher.stop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    for death in launcher.unreported_exits():  # died just before the stop: still a death
        deaths.append(death)
        _report_death(death, console)
    problems = [f"{d.child.role} (pid {d.child.pid}) exited unexpectedly with code {d.code}"
                for d in deaths]
    if options.duration_s is not None:
        problems += health_problems(view, options.max_e2e_errors)
    summary = _summary(settings, view, launcher, problems, time.monotonic() - started,
                       observer.by_inverter_message)
    write_json_atomically(options.run_dir / "summary.json", summary)
    if options.summary_path is not None:
        write_json_atomically(options.summary_path, summary)
    console.print(progress_line(view), highlight=False)
    for problem in problems:
        console.print(f"[bold red]problem:[/] {problem}")
    if not problems:
        console.print("all processes stopped cleanly")
    return 1 if problems else 0


def _dashboard(options: PackOptions, console: Console) -> tuple[DashboardPlan | None, str]:
    """The broker and the dashboard's plan (their passwords into this process's environment,
    which the children inherit, and an operator login printed) and its URL, or (None, "")
    without them."""
    if not options.web:
        return None, ""
    why_not = broker.missing()
    if why_not is not None:
        console.print(f"[yellow]no dashboard: {why_not}; --no-web hides this[/]")
        return None, ""
    options.run_dir.mkdir(parents=True, exist_ok=True)
    plan = broker.configure(options.run_dir / "broker")
    os.environ.update(plan.passwords_env)
    users = options.run_dir / "web-users"
    login = f"logins of {users}"
    if not users.exists():  # a run directory used again keeps its logins
        password = secrets.token_urlsafe(9)
        add_user(users, "operator", "operator", password)
        login = f"operator login: operator / {password}"
    relayed_url, socket_path = os.environ.get("BMS_WEB_URL"), os.environ.get("BMS_WEB_SOCKET")
    port = broker.free_port(options.web_port)
    url = relayed_url or f"http://127.0.0.1:{port}/"
    console.print(f"dashboard: {url}  ({login})", highlight=False)
    if only_loopback_network() and not relayed_url:
        console.print("    (inside this pack's network namespace: ./run pack relays it to the "
                      "host)", highlight=False)
    return DashboardPlan(plan, port, Path(socket_path) if socket_path else None), url


def _first_few(names: list[str], shown: int = 4) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


async def _next_exit(launcher: Launcher, timeout_s: float) -> ChildExit | None:
    try:
        async with asyncio.timeout(timeout_s):
            return await launcher.exits.get()
    except TimeoutError:
        return None


def _report_death(death: ChildExit, console: Console) -> None:
    console.print(f"[bold red]{death.child.role} (pid {death.child.pid}) exited unexpectedly "
                  f"with code {death.code}[/]; last lines of {death.child.log_path}:")
    console.print(death.child.log_tail(), highlight=False, markup=False)


async def _wait_step(launcher: Launcher, stop: asyncio.Event, deadline: float | None,
                     options: PackOptions, deaths: list[ChildExit], console: Console,
                     step_s: float) -> bool:
    """Wait one view period; False when the pack must stop."""
    death = await _next_exit(launcher, step_s)
    if death is not None:
        deaths.append(death)
        _report_death(death, console)
        if not options.keep_going:
            return False
    now = asyncio.get_running_loop().time()
    return not stop.is_set() and (deadline is None or now < deadline)


async def _headless(observer: PackObserver, launcher: Launcher, stop: asyncio.Event,
                    deadline: float | None, options: PackOptions, deaths: list[ChildExit],
                    console: Console) -> None:
    loop = asyncio.get_running_loop()
    next_progress = loop.time() + PROGRESS_PERIOD_S
    while await _wait_step(launcher, stop, deadline, options, deaths, console, VIEW_PERIOD_S):
        if loop.time() >= next_progress:
            next_progress += PROGRESS_PERIOD_S
            console.print(progress_line(observer.view(loop.time())), highlight=False)


async def _live(observer: PackObserver, launcher: Launcher, stop: asyncio.Event,
                deadline: float | None, options: PackOptions, deaths: list[ChildExit],
                title: str, console: Console) -> None:
    loop = asyncio.get_running_loop()
    # auto_refresh off: no refresh thread, so children can be forked safely
    with Live(render(observer.view(loop.time()), title), console=console,
              auto_refresh=False, transient=False) as live:
        while await _wait_step(launcher, stop, deadline, options, deaths, console, VIEW_PERIOD_S):
            live.update(render(observer.view(loop.time()), title), refresh=True)


def _summary(settings: Settings, view: PackView, launcher: Launcher, problems: list[str],
             wall_s: float, inverter_frames: Mapping[str, int]) -> dict[str, Any]:
    children: dict[str, Any] = {}
    for child in launcher.children:
        stats: Any = None
        if child.stats_path is not None and child.stats_path.exists():
            stats = json.loads(child.stats_path.read_text())
        children[child.role] = {"pid": child.pid, "exit_code": child.exit_code,
                                "log": str(child.log_path), "stats": stats}
    return {
        "ok": not problems,
        "problems": problems,
        "wall_time_s": wall_s,
        "modules": settings.pack.modules,
        "cells_per_module": settings.pack.cells_per_module,
        "observer": {
            "elapsed_s": view.elapsed_s,
            "frames_total": view.frames_total,
            "frames_per_s_last_second": view.frames_per_s,
            "bus_load_last_second": view.bus_load,
            "undecodable_frames": view.unknown_frames,
            "inverter_frames": dict(inverter_frames),  # the observer's, by message
            "master_state": view.master_state.name if view.master_state else None,
            "contactors": str(view.bms_status.contactors) if view.bms_status else None,
            "fault_groups": sorted(view.bms_status.fault_groups) if view.bms_status else None,
            "modules": [
                {"module": m.module_id, "link": m.link.value,
                 "master_link": m.master_link.value if m.master_link else None,
                 "frames": m.frames, "e2e_errors": m.e2e_errors,
                 "e2e_lost_frames": m.e2e_lost_frames, "cells_seen": m.cells_seen}
                for m in view.modules
            ],
        },
        "children": children,
        "python": sys.version.split()[0],
    }
