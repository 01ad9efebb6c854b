"""Starts and supervises the processes of the virtual pack.

Every child runs ``python -m bms ...`` with the same configuration, in its own session (so a
Ctrl-C reaches only the launcher, which then stops the children in a safe order: master
first) and with a parent-death signal (so no child outlives a killed launcher). Output goes
to one log file per child in the run directory; ``children.json`` there lists their pids.

The plant (HV box, slaves, vehicle-bus peers) starts first and the master once every part
of it has been heard, as a vehicle powers its sensors before its BMS decides: the master's
start-up grace then covers its own start only, not how long a loaded machine takes to start
a dozen interpreters (docs/startup.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bms.service import write_json_atomically
from bms.settings import Settings
from sim.broker import BrokerPlan

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0
PLANT_WAIT_S = 120.0  # at time scale 1: then the master starts anyway and finds what is missing
POLL_S = 0.05
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    role: str
    argv: list[str]
    log_path: Path
    stats_path: Path | None = None
    process: asyncio.subprocess.Process | None = None
    expected_exit: bool = False
    exit_code: int | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class ChildExit:
    child: Child
    code: int


@dataclass(frozen=True)
class DashboardPlan:
    """The broker and `bms web` beside the pack: the master publishes to the broker, the
    dashboard reads it (its users' passwords in the launcher's environment)."""

    broker: BrokerPlan
    web_port: int
    web_socket: Path | None = None  # also served on this Unix socket (`./run pack`)


@dataclass
class Launcher:
    settings: Settings
    config_args: list[str]
    run_dir: Path
    dashboard: DashboardPlan | None = None
    children: list[Child] = field(default_factory=list)
    exits: asyncio.Queue[ChildExit] = field(default_factory=asyncio.Queue)
    _watchers: list[asyncio.Task[None]] = field(default_factory=list)

    def plan(self) -> list[Child]:
        """The master, the HV box, the vehicle-bus peers (VCU, charger, inverter: those
        configured), the slaves."""
        base = [sys.executable, "-m", "bms"]

        def child(role: str, *args: str, stats: bool = True) -> Child:
            slug = role.replace(" ", "-")
            stats_path = self.run_dir / f"{slug}.stats.json" if stats else None
            argv = [*base, *args, *self.config_args]
            if stats_path is not None:
                argv += ["--stats-file", str(stats_path)]
            return Child(role, argv, self.run_dir / f"{slug}.log", stats_path)

        mqtt: list[str] = []
        extras: list[Child] = []
        if self.dashboard is not None:
            port = self.dashboard.broker.port
            mqtt = ["--set", "mqtt.enabled=true", "--set", f"mqtt.port={port}",
                    "--set", "mqtt.username=bms-master"]
            web = [f"web.port={self.dashboard.web_port}",
                   f"web.history_path={self.run_dir / 'web.sqlite'}",
                   f"web.users_file={self.run_dir / 'web-users'}", f"mqtt.port={port}"]
            extras = [
                Child("broker", self.dashboard.broker.argv, self.run_dir / "broker.log"),
                child("web", "web", *(a for s in web for a in ("--set", s)),
                      "--url-file", str(self.run_dir / "web.url"),
                      *(["--unix", str(self.dashboard.web_socket)]
                        if self.dashboard.web_socket else []), stats=False),
            ]
        self.children = [
            child("master", "master", "--set",
                  f"master.blackbox_dir={self.run_dir / 'blackbox'}", "--set",
                  f"master.store_path={self.run_dir / 'bms.sqlite'}", *mqtt),
            *extras,
            child("hv-box", "sim", "hv-box", stats=False),
            # the inverter's counters (what it moved, what it refused) go into the summary
            *(child(peer, "sim", peer, stats=peer == "inverter") for peer in self.peers()),
            *(child(f"slave {m}", "slave", "--module", str(m))
              for m in range(self.settings.pack.modules)),
        ]
        return self.children

    def peers(self) -> list[str]:
        """The peers this pack's configuration has: on the vehicle bus, and the inverter on
        its own (the vehicle bus in a pack without a VCU)."""
        endpoints = self.settings.endpoints
        return [peer for peer, present in (("vcu", endpoints.vcu),
                                           ("charger", endpoints.charger != "none"),
                                           ("inverter", endpoints.inverter != "none"))
                if present]

    async def start(self, unheard: Callable[[], list[str]] = list,
                    wait_s: float | None = None, stop: asyncio.Event | None = None) -> list[str]:
        """Every child but the master, then the master once ``unheard()`` names nothing, a
        child has exited, or ``wait_s`` (default ``PLANT_WAIT_S`` x the pack's time scale)
        has passed; not once ``stop`` is set. Returns what was unheard when the wait ended."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        plant = [child for child in self.plan() if child.role != "master"]
        for child in plant:
            await self._spawn(child)
        if wait_s is None:
            wait_s = PLANT_WAIT_S * self.settings.pack.time_scale
        missing = await self._wait_heard(unheard, wait_s, stop)
        if stop is None or not stop.is_set():
            for child in self.children:
                if child.role == "master":
                    await self._spawn(child)
        manifest = {c.role: {"pid": c.pid, "log": str(c.log_path)} for c in self.children}
        write_json_atomically(self.run_dir / "children.json", manifest)
        return missing

    async def _wait_heard(self, unheard: Callable[[], list[str]], wait_s: float,
                          stop: asyncio.Event | None) -> list[str]:
        """Until nothing is unheard (checked every ``POLL_S``), a child exits, ``stop`` is
        set or ``wait_s`` has passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        stopped = asyncio.create_task(stop.wait()) if stop is not None else None
        ends: list[asyncio.Task[Any]] = [*self._watchers, *([stopped] if stopped else [])]
        try:
            while (missing := unheard()) and loop.time() < deadline:
                ended, _ = await asyncio.wait(ends, timeout=POLL_S,
                                              return_when=asyncio.FIRST_COMPLETED)
                if ended:
                    break
        finally:
            if stopped is not None:
                stopped.cancel()
        return missing

    async def _spawn(self, child: Child) -> None:
        with child.log_path.open("wb") as log_file:
            child.process = await asyncio.create_subprocess_exec(
                *child.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self._watchers.append(
            asyncio.create_task(self._watch(child), name=f"watch-{child.role}")
        )

    async def _watch(self, child: Child) -> None:
        assert child.process is not None
        code = await child.process.wait()
        child.exit_code = code
        if not child.expected_exit:
            await self.exits.put(ChildExit(child, code))

    def child(self, role: str) -> Child:
        for child in self.children:
            if child.role == role:
                return child
        raise KeyError(role)

    async def stop(self) -> None:
        """Stop the master first (it leaves the pack safe), then every other child."""
        master = [c for c in self.children if c.role == "master"]
        others = [c for c in self.children if c.role != "master"]
        for group in (master, others):
            await asyncio.gather(*(self._stop_child(c) for c in group))
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    async def _stop_child(self, child: Child) -> None:
        process = child.process
        if process is None or process.returncode is not None:
            return
        child.expected_exit = True
        # os.kill, not process.send_signal: Popen.send_signal polls first, which reaps a
        # child that has just died, and the watcher then reports it as 255, not its death
        # (until reaped by the watcher a dead child keeps its pid: no other gets the signal)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                child.exit_code = await process.wait()
        except TimeoutError:
            log.warning("%s (pid %d) ignored SIGTERM; killing it", child.role, process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            child.exit_code = await process.wait()
            return
        if child.exit_code not in (0, -signal.SIGTERM):
            # it had died before the stop (not yet reaped), or failed while stopping
            self.exits.put_nowait(ChildExit(child, child.exit_code))

    def unreported_exits(self) -> list[ChildExit]:
        """The exits queued and not yet taken (those found while stopping among them)."""
        exits = []
        while not self.exits.empty():
            exits.append(self.exits.get_nowait())
        return exits
