"""`bms site virtual`: the virtual site as real processes, with a live view, or headless for a
fixed time (docs/site.md, "The virtual site").

N packs (deploy/packs/site-pack.toml) at different SOCs, each with its own master, slaves,
buses and broker, the brokers bridged over TLS to a site broker (sim/site_brokers.py), the
DC bus with every pack's box and the inverter (`bms sim site-bus`), and the site controller
(`bms site`) between them, all started by sim/site_launcher.py. The launcher watches the
site from outside (sim/site_watch.py): the site broker as the site's user, the inverter's
bus.

Exit codes: 0 all went well; 1 a child died, or (with a duration) the site was not healthy
at the end: a pack not connected, the site silent, or a limits frame beyond what the
connected packs allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import aiomqtt
from rich.console import Console
from rich.live import Live

from bms.can_port import CanPort
from bms.netns import only_loopback_network
from bms.service import write_json_atomically
from bms.settings import Settings, bus_kwargs, inverter_bus
from master.telemetry.clients import tls_of
from master.telemetry.publisher import Backoff
from sim import site_brokers
from sim.launcher import ChildExit
from sim.observer import PackObserver
from sim.site_configs import (
    PACK_BUSES,
    PACK_PROFILE,
    SITE_PROFILE,
    SiteConfigs,
    password_env,
    write_configs,
)
from sim.site_launcher import SiteLauncher
from sim.site_view import progress_line, render
from sim.site_watch import SiteWatch

log = logging.getLogger(__name__)

VIEW_PERIOD_S: Final = 1.0
STEP_S: Final = 0.25  # how soon a child's death or Ctrl-C is noticed
PROGRESS_PERIOD_S: Final = 5.0
BROKER_WAIT_S: Final = 20.0
SITE_SILENT_PERIODS: Final = 3  # the site's report older than this many periods: silent
READY_STATE: Final = "STANDBY"  # a pack of a site waits there until asked to join
MASTER_PASSWORD_ENV: Final = "BMS_MQTT_PASSWORD"  # the pack broker's variable of bms-master's


@dataclass(frozen=True)
class SiteOptions:
    packs: list[str]
    socs_pct: list[float]
    run_dir: Path
    duration_s: float | None
    headless: bool
    keep_going: bool
    summary_path: Path | None
    pack_profile: Path = PACK_PROFILE
    site_profile: Path = SITE_PROFILE
    pack_overrides: tuple[str, ...] = ()
    site_overrides: tuple[str, ...] = ()


def prepare(options: SiteOptions) -> tuple[site_brokers.SitePlan, SiteConfigs]:
    """The brokers' files and every configuration, written into the run directory; the
    passwords into this process's environment (the children inherit it)."""
    options.run_dir.mkdir(parents=True, exist_ok=True)
    brokers = site_brokers.configure_site(options.run_dir / "brokers", options.packs)
    configs = write_configs(
        options.run_dir, options.packs, options.socs_pct,
        {pack: plan.port for pack, plan in brokers.packs.items()}, brokers.site.port,
        options.pack_profile, options.site_profile, options.pack_overrides,
        options.site_overrides)
    site = configs.site_settings.site
    os.environ[site.mqtt_password_env] = brokers.site.passwords_env[site.mqtt_password_env]
    for pack, plan in brokers.packs.items():
        os.environ[password_env(pack)] = plan.passwords_env[MASTER_PASSWORD_ENV]
    return brokers, configs


def describe(brokers: site_brokers.SitePlan, configs: SiteConfigs) -> list[str]:
    lines = [f"site broker: {brokers.host}:{brokers.site.port} (TLS for the bridges: "
             f"{brokers.tls_port}); the site reads it as user "
             f"{configs.site_settings.site.mqtt_username}"]
    for pack, settings in configs.pack_settings.items():
        buses = ", ".join(f"{bus} {_wire(bus_kwargs(settings, bus))}" for bus in PACK_BUSES)
        lines.append(f"{pack}: SOC {configs.socs_pct[pack]:g} %, broker "
                     f"{brokers.host}:{brokers.packs[pack].port}, buses: {buses}")
    where = inverter_bus(configs.site_settings)
    if where is not None:
        lines.append(f"site inverter ({configs.site_settings.endpoints.inverter}): "
                     f"{_wire(bus_kwargs(configs.site_settings, where))}")
    if only_loopback_network():
        lines.append(f"this site runs in a network namespace with only loopback; attach from "
                     f"outside with nsenter --net=/proc/{os.getpid()}/ns/net <command>")
    return lines


def _wire(kwargs: dict[str, Any]) -> str:
    where = f"{kwargs.get('channel')}" + (f":{kwargs['port']}" if "port" in kwargs else "")
    return f"{kwargs.get('interface')} {where}"


async def _brokers_up(brokers: site_brokers.SitePlan) -> None:
    """Until every broker accepts connections (BROKER_WAIT_S at most: then the clients'
    own reconnecting takes over)."""
    ports = [brokers.site.port, brokers.tls_port, *(p.port for p in brokers.packs.values())]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(BROKER_WAIT_S):
            for port in ports:
                while True:
                    try:
                        _, writer = await asyncio.open_connection(brokers.host, port)
                    except OSError:
                        await asyncio.sleep(0.05)  # nothing to wait on but the port itself
                        continue
                    writer.close()
                    break


async def _watch_broker(watch: SiteWatch, site: Settings, stop: asyncio.Event) -> None:
    """The site broker as the site's user (read only here), into ``watch``."""
    mqtt, config = site.mqtt, site.site
    backoff = Backoff(mqtt.reconnect_min_s, mqtt.reconnect_max_s)
    while not stop.is_set():
        was_up = False
        try:
            async with aiomqtt.Client(
                    mqtt.host, mqtt.port, username=config.mqtt_username or None,
                    password=os.environ.get(config.mqtt_password_env),
                    identifier=f"bms-site-watch-{os.getpid()}", clean_session=True,
                    tls_params=tls_of(mqtt.tls_ca_file), keepalive=30, timeout=10) as client:
                for topic in watch.topics():
                    await client.subscribe(topic, qos=0)
                was_up = True
                async for message in client.messages:
                    payload = message.payload
                    watch.on_message(str(message.topic),
                                     payload if isinstance(payload, bytes) else b"",
                                     time.time())
        except aiomqtt.MqttError as exc:
            log.debug("site watch: broker: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff.next_s(was_up))


def health_problems(watch: SiteWatch, site: Settings, now_s: float) -> list[str]:
    problems = []
    roles = watch.site_roles()
    for name, view in watch.views.items():
        if not view.connected:
            reason = watch.site_pack(name).get("reason") or ""
            problems.append(f"{name} not connected at the end (its state {view.state}, the "
                            f"site's role {roles[name]}{': ' + reason if reason else ''})")
    if watch.report_age_s(now_s) > SITE_SILENT_PERIODS * site.site.period_s:
        problems.append("the site controller's report is not fresh at the end")
    check = watch.check
    if check.violations:
        problems.append(f"{check.violations} limits frames beyond the connected packs' limits "
                        f"(worst by {check.worst_excess_a:.1f} A); the first: "
                        f"{check.first_violation}")
    if site.endpoints.inverter != "none" and check.frames == 0:
        problems.append("no limits frame from the site on the inverter's bus")
    return problems


async def run_site(options: SiteOptions) -> int:
    console = Console(stderr=False)
    why_not = site_brokers.missing()
    if why_not is not None:
        console.print(f"[bold red]no virtual site here:[/] {why_not}")
        return 2
    brokers, configs = prepare(options)
    site = configs.site_settings
    for line in describe(brokers, configs):
        console.print(line, highlight=False, markup=False)
    console.print(f"run directory (configurations, logs, counters): {options.run_dir}",
                  highlight=False)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    launcher = SiteLauncher(site, [], options.run_dir, configs=configs, brokers=brokers)
    watch = SiteWatch(tuple(options.packs), site.mqtt.prefix, site.site.prefix, site.site.name,
                      site.endpoints.inverter, time.time())
    deaths: list[ChildExit] = []
    started = time.monotonic()
    problems: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        where = inverter_bus(site)
        if where is not None:
            inverter = await stack.enter_async_context(
                CanPort(bus_kwargs(site, where), f"{where}/site-watch"))
            inverter.subscribe(lambda frame, _: watch.on_inverter_frame(frame, time.time()))
        broker_task = asyncio.create_task(_watch_broker(watch, site, stop), name="site-watch")
        try:
            console.print("starting the brokers, the DC bus, the slaves and the site "
                          "controller; each master once its pack is heard", highlight=False)
            missing = await _start(launcher, configs, brokers, stop, watch)
            if missing and not stop.is_set():
                console.print(f"[yellow]started without having heard "
                              f"{', '.join(missing[:4])}[/]")
            deadline = None if options.duration_s is None else loop.time() + options.duration_s
            step = _Stepper(launcher, stop, deadline, options, deaths, console)
            if options.headless:
                await _headless(watch, step, console)
            else:
                await _live(watch, step, console, _title(configs))
            now = time.time()
            if options.duration_s is not None:
                problems += health_problems(watch, site, now)
            final = _final(watch, configs)
        finally:
            stop.set()
            await launcher.stop()
            broker_task.cancel()
            await asyncio.gather(broker_task, return_exceptions=True)
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    for death in launcher.unreported_exits():
        deaths.append(death)
        _report_death(death, console)
    problems = [f"{d.child.role} (pid {d.child.pid}) exited unexpectedly with code {d.code}"
                for d in deaths] + problems
    summary = _summary(final, watch, launcher, problems, time.monotonic() - started, options)
    write_json_atomically(options.run_dir / "summary.json", summary)
    if options.summary_path is not None:
        write_json_atomically(options.summary_path, summary)
    _print_summary(summary, console)
    for problem in problems:
        console.print(f"[bold red]problem:[/] {problem}")
    if not problems:
        console.print("all processes stopped cleanly")
    return 1 if problems else 0


async def _start(launcher: SiteLauncher, configs: SiteConfigs,
                 brokers: site_brokers.SitePlan, stop: asyncio.Event,
                 watch: SiteWatch) -> list[str]:
    """The launcher's start, with a listener on every pack bus until the masters start,
    and the site controller once the watch has heard every pack in STANDBY."""
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        observers: dict[str, PackObserver] = {}
        for pack, settings in configs.pack_settings.items():
            port = await stack.enter_async_context(
                CanPort(bus_kwargs(settings, "pack"), f"{pack}/pack/observer"))
            observers[pack] = PackObserver(settings, loop.time())
            port.subscribe(observers[pack].on_frame)

        def unheard() -> list[str]:
            return [f"{pack}: {part}" for pack, observer in observers.items()
                    for part in observer.unheard()]

        def unready() -> list[str]:
            return [f"{name} in STANDBY" for name, view in watch.views.items()
                    if view.state != READY_STATE]

        return await launcher.start(unheard, stop=stop, brokers_up=lambda: _brokers_up(brokers),
                                    packs_unready=unready)


def _title(configs: SiteConfigs) -> str:
    site, pack = configs.site_settings, configs.site_settings.pack
    return (f"{site.site.name}: {len(configs.packs)} packs of {pack.modules} x "
            f"{pack.cells_per_module} {pack.chemistry.value} {pack.cell_capacity_ah:g} Ah, "
            f"{site.endpoints.inverter} inverter")


@dataclass
class _Stepper:
    launcher: SiteLauncher
    stop: asyncio.Event
    deadline: float | None
    options: SiteOptions
    deaths: list[ChildExit]
    console: Console

    async def __call__(self) -> bool:
        """Wait one step; False when the site must stop."""
        try:
            async with asyncio.timeout(STEP_S):
                death: ChildExit | None = await self.launcher.exits.get()
        except TimeoutError:
            death = None
        if death is not None:
            self.deaths.append(death)
            _report_death(death, self.console)
            if not self.options.keep_going:
                return False
        now = asyncio.get_running_loop().time()
        return not self.stop.is_set() and (self.deadline is None or now < self.deadline)


async def _headless(watch: SiteWatch, step: _Stepper, console: Console) -> None:
    next_progress = time.time() + PROGRESS_PERIOD_S
    while await step():
        if time.time() >= next_progress:
            next_progress += PROGRESS_PERIOD_S
            console.print(progress_line(watch, time.time()), highlight=False, markup=False)


async def _live(watch: SiteWatch, step: _Stepper, console: Console, title: str) -> None:
    next_view = time.time() + VIEW_PERIOD_S
    # auto_refresh off: no refresh thread, so children can be forked safely
    with Live(render(watch, time.time(), title), console=console, auto_refresh=False,
              transient=False) as live:
        while await step():
            if time.time() >= next_view:
                next_view += VIEW_PERIOD_S
                live.update(render(watch, time.time(), title), refresh=True)


def _report_death(death: ChildExit, console: Console) -> None:
    console.print(f"[bold red]{death.child.role} (pid {death.child.pid}) exited unexpectedly "
                  f"with code {death.code}[/]; last lines of {death.child.log_path}:")
    console.print(death.child.log_tail(), highlight=False, markup=False)


def _final(watch: SiteWatch, configs: SiteConfigs) -> dict[str, Any]:
    """The site and its packs as they were at the end, before anything stopped."""
    report = watch.report or {}
    joined = {join.pack: join for join in watch.joins}
    packs = []
    for name, view in watch.views.items():
        entry = watch.site_pack(name)
        join = joined.get(name)
        packs.append({
            "name": name, "initial_soc_pct": configs.socs_pct[name],
            "connected": view.connected, "state": view.state,
            "role": entry.get("role"), "reason": entry.get("reason"),
            "joined_s": None if join is None else round(join.t_s, 1),
            "voltage_v": view.voltage_v if view.state_t is not None else None,
            "current_a": view.current_a, "soc_pct": view.soc_pct,
            "charge_limit_a": view.charge_limit_a, "discharge_limit_a": view.discharge_limit_a})
    site = {key: report.get(key) for key in (
        "packs_online", "packs_connected", "charge_a", "discharge_a", "charge_limiter",
        "discharge_limiter", "steering", "steering_reason", "voltage_v", "current_a",
        "soc_pct", "soe_kwh", "warnings", "notes")}
    return {"packs": packs, "site": site}


def _summary(final: dict[str, Any], watch: SiteWatch, launcher: SiteLauncher,
             problems: list[str], wall_s: float, options: SiteOptions) -> dict[str, Any]:
    children: dict[str, Any] = {}
    for child in launcher.children:
        stats: Any = None
        if child.stats_path is not None and child.stats_path.exists():
            with contextlib.suppress(ValueError, OSError):
                stats = json.loads(child.stats_path.read_text())
        children[child.role] = {"pid": child.pid, "exit_code": child.exit_code,
                                "log": str(child.log_path), "stats": stats}
    plant = children.get("site-bus", {}).get("stats")
    return {
        "ok": not problems,
        "problems": problems,
        "wall_time_s": round(wall_s, 1),
        "duration_s": options.duration_s,
        "run_dir": str(options.run_dir),
        "join_order": [join.pack for join in watch.joins],
        "joins": [{"pack": j.pack, "t_s": round(j.t_s, 1), "voltage_v": j.voltage_v,
                   "bus_v": j.bus_v} for j in watch.joins],
        "steering": [{"t_s": round(s.t_s, 1), "steering": s.direction, "reason": s.reason}
                     for s in watch.steerings],
        **final,
        "inverter_limits": asdict(watch.check),
        "plant": plant,
        "children": children,
        "python": sys.version.split()[0],
    }


def _print_summary(summary: dict[str, Any], console: Console) -> None:
    site = summary["site"]
    console.print(f"summary after {summary['wall_time_s']:.0f} s: "
                  f"{site.get('packs_connected') or 0} of {len(summary['packs'])} packs "
                  f"connected; joined in order: "
                  + (", ".join(f"{j['pack']} at {j['t_s']:.0f} s" for j in summary["joins"])
                     or "none"), highlight=False)
    for pack in summary["packs"]:
        console.print(f"  {pack['name']}: from SOC {pack['initial_soc_pct']:g} %, "
                      f"{pack['state']}, {pack['role']}"
                      + (f" ({pack['reason']})" if pack["reason"] else "")
                      + ("" if pack["voltage_v"] is None else
                         f", {pack['voltage_v']:.1f} V {pack['current_a']:+.1f} A"),
                      highlight=False)
    check = summary["inverter_limits"]
    console.print(f"  inverter: {check['frames']} limits frames, at most "
                  f"{check['max_charge_a']:.1f} A charge and {check['max_discharge_a']:.1f} A "
                  f"discharge; beyond the connected packs' limits: {check['violations']}",
                  highlight=False)
    inverter = (summary.get("plant") or {}).get("inverter")
    if inverter:
        console.print(f"  the inverter moved up to {inverter['max_charge_a']:.1f} A charging "
                      f"({inverter['charge_s']:.0f} s) and {inverter['max_discharge_a']:.1f} A "
                      f"discharging ({inverter['discharge_s']:.0f} s)", highlight=False)
