"""The real launcher with real processes on udp_multicast (in a private network namespace)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bms.can_port import CanPort
from bms.settings import Settings, bus_kwargs, load_settings
from master.slave_registry import LinkState
from sim.observer import PackObserver
from tests.waiting import wait_until

pytestmark = pytest.mark.multiprocess

START_DEADLINE_S = 5.0  # all modules online and every cell seen, from the launcher's start


def pack_config(tmp_path: Path, modules: int) -> tuple[Path, Settings]:
    port = random.randint(20_000, 60_000)
    path = tmp_path / "pack.toml"
    path.write_text(
        f"[pack]\nmodules = {modules}\n\n"
        f'[bus.pack]\ninterface = "udp_multicast"\nchannel = "239.74.163.2"\nport = {port}\n'
        f"hop_limit = 0\nbitrate = 500000\n\n"
        f'[bus.vehicle]\ninterface = "udp_multicast"\nchannel = "239.74.163.3"\n'
        f"port = {port + 1}\nhop_limit = 0\nbitrate = 500000\n"
    )
    return path, load_settings(path)


@asynccontextmanager
async def listener(settings: Settings) -> AsyncIterator[PackObserver]:
    """An independent python-can listener on the pack bus, decoding with the DBC."""
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "pack"), "test-listener") as port:
        observer = PackObserver(settings, loop.time())
        port.subscribe(observer.on_frame)
        yield observer


async def launch(config: Path, run_dir: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bms", "pack", "--config", str(config), "--run-dir", str(run_dir),
        "--headless", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


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

    def pid(self, role: str) -> int:
        return child_pid(self.run_dir, role)


@asynccontextmanager
async def online_pack(tmp_path: Path, modules: int, *args: str) -> AsyncIterator[RunningPack]:
    """`bms pack` started, watched by a listener, with every cell of every module seen
    within START_DEADLINE_S of the start."""
    config, settings = pack_config(tmp_path, modules)
    run_dir = tmp_path / "run"
    async with listener(settings) as observer:
        process = await launch(config, run_dir, *args)
        try:
            await wait_until(lambda: all_cells_seen(observer, settings), START_DEADLINE_S,
                             "every cell of every module seen on the bus")
            yield RunningPack(process, observer, settings, run_dir)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_pack_comes_online_runs_and_reports(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    async with online_pack(tmp_path, 4, "--duration", "8",
                           "--summary-json", str(summary_path)) as pack:
        loop = asyncio.get_running_loop()
        await wait_until(
            lambda: all(m.link is LinkState.ONLINE and m.master_link is LinkState.ONLINE
                        for m in pack.observer.view(loop.time()).modules),
            1.0, "every module online, for the listener and for the master")
        code, output = await finish(pack.process)
    assert code == 0, output
    summary = json.loads(summary_path.read_text())
    assert summary["ok"]
    assert summary["problems"] == []
    modules = summary["observer"]["modules"]
    assert [m["link"] for m in modules] == ["online"] * 4
    assert all(m["e2e_errors"] == 0 for m in modules)
    assert summary["children"]["master"]["stats"]["state"] == "STANDBY"
    assert all(child["exit_code"] == 0 for child in summary["children"].values())
    assert "can.Bus(interface='udp_multicast'" in output  # how other tools attach


async def test_killed_slave_is_marked_lost_within_its_timeout(tmp_path: Path) -> None:
    lost_at: list[float] = []
    async with online_pack(tmp_path, 4, "--keep-going") as pack:
        loop = asyncio.get_running_loop()
        master = pack.settings.master

        def lost_seen() -> bool:
            if pack.observer.master_masks.get(LinkState.LOST, 0) & 1 << 2 and not lost_at:
                lost_at.append(loop.time())
            return bool(lost_at)

        killed_at = loop.time()
        os.kill(pack.pid("slave 2"), signal.SIGKILL)
        # the master marks it lost slave_lost_timeout_s after its last frame and says so in
        # its next status page
        budget_s = master.slave_lost_timeout_s + master.status_period_s + 0.3
        await wait_until(lost_seen, budget_s, "master reports module 2 lost")
        others = [m for m in pack.observer.view(loop.time()).modules if m.module_id != 2]
        assert [m.master_link for m in others] == [LinkState.ONLINE] * 3
        pack.process.send_signal(signal.SIGINT)
        code, output = await finish(pack.process)
    assert lost_at[0] - killed_at <= budget_s
    assert code == 1  # a child died, even though the pack kept going
    assert "slave 2" in output
    assert "exited unexpectedly" in output


async def test_ctrl_c_stops_every_process_cleanly(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 2) as pack:
        pids = [pack.pid(role) for role in ("master", "slave 0", "slave 1", "current-sensor")]
        pack.process.send_signal(signal.SIGINT)
        code, output = await finish(pack.process)
    assert code == 0, output
    assert "all processes stopped cleanly" in output
    assert not any(alive(pid) for pid in pids)


async def test_a_dying_child_stops_the_pack_and_is_named(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 2) as pack:
        master = pack.pid("master")
        os.kill(pack.pid("slave 1"), signal.SIGKILL)
        code, output = await finish(pack.process, timeout_s=15.0)
    assert code == 1
    assert "slave 1" in output
    assert "exited unexpectedly with code -9" in output
    assert not alive(master)


async def test_killed_launcher_takes_its_children_along(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 1) as pack:
        pids = [pack.pid(role) for role in ("master", "slave 0", "current-sensor")]
        pack.process.kill()
        await pack.process.wait()
        await wait_until(lambda: not any(alive(pid) for pid in pids), 5.0,
                         "children stop when the launcher is killed")
