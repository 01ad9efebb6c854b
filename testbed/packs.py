"""Starting a real virtual pack from the tests, with an independent listener on its buses."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bms.can_port import CanPort
from bms.settings import Settings, bus_kwargs, load_settings
from dbc.codec import sim_codec
from dbc.frames import Frame
from sim.observer import Link, PackObserver
from testbed.startup import node_starts, pack_start_deadline
from testbed.waiting import wait_until


def pack_config(tmp_path: Path, modules: int, extra: str = "") -> tuple[Path, Settings]:
    """A pack file on ports of its own (nothing else in the namespace hears it)."""
    port = random.randint(20_000, 60_000)
    buses = "".join(
        f'[bus.{name}]\ninterface = "udp_multicast"\nchannel = "239.74.163.{2 + i}"\n'
        f"port = {port + i}\nhop_limit = 0\nbitrate = 500000\n\n"
        for i, name in enumerate(("pack", "vehicle", "sim")))
    path = tmp_path / "pack.toml"
    path.write_text(f"[pack]\nmodules = {modules}\n\n{extra}\n{buses}")
    return path, load_settings(path)


@asynccontextmanager
async def listener(settings: Settings) -> AsyncIterator[PackObserver]:
    """An independent python-can listener on the pack and vehicle buses, decoding with the
    DBC files."""
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "pack"), "test-listener") as port, \
            CanPort(bus_kwargs(settings, "vehicle"), "test-listener/vehicle") as vehicle:
        observer = PackObserver(settings, loop.time())
        port.subscribe(observer.on_frame)
        vehicle.subscribe(observer.on_vehicle_frame)
        yield observer


async def launch(config: Path, run_dir: Path, *args: str,
                 web: bool = False) -> asyncio.subprocess.Process:
    """`bms pack` headless; without its broker and dashboard unless ``web``."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bms", "pack", "--config", str(config), "--run-dir", str(run_dir),
        "--headless", *([] if web else ["--no-web"]), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)


async def finish(process: asyncio.subprocess.Process, timeout_s: float = 30.0) -> tuple[int, str]:
    async with asyncio.timeout(timeout_s):
        output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def all_cells_seen(observer: PackObserver, settings: Settings) -> bool:
    return all(counters.cells_seen == set(range(settings.pack.cells_per_module))
               for counters in observer.counters)


def child_pid(run_dir: Path, role: str) -> int:
    return int(json.loads((run_dir / "children.json").read_text())[role]["pid"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class RunningPack:
    process: asyncio.subprocess.Process
    observer: PackObserver
    settings: Settings
    run_dir: Path

    config: Path

    def pid(self, role: str) -> int:
        return child_pid(self.run_dir, role)

    def pids(self) -> dict[str, int]:
        children = json.loads((self.run_dir / "children.json").read_text())
        return {role: int(child["pid"]) for role, child in children.items()}

    async def inject(self, command: Frame) -> None:
        """Send a simulation-bus command as `bms inject` would."""
        async with CanPort(bus_kwargs(self.settings, "sim"), "test-injector") as sim:
            assert sim.send(sim_codec().encode(command))

    def master_stats(self) -> dict[str, object]:
        return dict(json.loads((self.run_dir / "master.stats.json").read_text()))


@asynccontextmanager
async def online_pack(tmp_path: Path, modules: int, *args: str, extra: str = "",
                      web: bool = False) -> AsyncIterator[RunningPack]:
    """`bms pack` started, watched by a listener, with every cell of every module seen
    and every module online for the master, each within a deadline derived from this
    machine's measured start-up (`testbed.startup`)."""
    config, settings = pack_config(tmp_path, modules, extra)
    run_dir = tmp_path / "run"
    deadline = pack_start_deadline(
        settings, await node_starts(bus_kwargs(settings, "pack"), ["--config", str(config)]))
    async with listener(settings) as observer:
        process = await launch(config, run_dir, *args, web=web)
        try:
            await wait_until(lambda: all_cells_seen(observer, settings), deadline.seconds,
                             f"every cell of every module seen on the bus ({deadline})")
            # the master starts slower than the slaves (store, estimator): a test that
            # breaks a module must not race the master's first sight of it
            every_module = (1 << modules) - 1
            await wait_until(
                lambda: observer.master_masks.get(Link.ONLINE) == every_module,
                deadline.seconds,
                f"the master's status page reports every module online ({deadline})")
            yield RunningPack(process, observer, settings, run_dir, config)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


