"""The real launcher with real processes on udp_multicast (in a private network namespace)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from sim.observer import Link
from testbed.packs import alive, finish, online_pack
from testbed.startup import pack_processes
from testbed.waiting import wait_until

pytestmark = pytest.mark.multiprocess


async def test_pack_comes_online_runs_and_reports(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    async with online_pack(tmp_path, 4, "--duration", "8",
                           "--summary-json", str(summary_path)) as pack:
        loop = asyncio.get_running_loop()
        await wait_until(
            lambda: all(m.link is Link.ONLINE and m.master_link is Link.ONLINE
                        for m in pack.observer.view(loop.time()).modules),
            1.0, "every module online, for the listener and for the master")
        # the start deadline counts the processes this pack runs: the launcher, its children
        assert pack_processes(pack.settings) == 1 + len(pack.pids())
        code, output = await finish(pack.process)
    assert code == 0, output
    summary = json.loads(summary_path.read_text())
    assert summary["ok"]
    assert summary["problems"] == []
    modules = summary["observer"]["modules"]
    assert [m["link"] for m in modules] == ["online"] * 4
    assert all(m["e2e_errors"] == 0 for m in modules)
    assert summary["children"]["master"]["stats"]["state"] == "NORMAL"  # the VCU asked to drive
    assert all(child["exit_code"] == 0 for child in summary["children"].values())
    assert "can.Bus(interface='udp_multicast'" in output  # how other tools attach


async def test_killed_slave_is_marked_lost_within_its_timeout(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 4, "--keep-going") as pack:
        loop = asyncio.get_running_loop()
        master = pack.settings.master
        os.kill(pack.pid("slave 2"), signal.SIGKILL)
        await wait_until(lambda: bool(pack.observer.master_masks.get(Link.LOST, 0) & 1 << 2),
                         3.0, "the master's status page reports module 2 lost")
        last_frame_s = pack.observer.heard_s[2]
        others = [m for m in pack.observer.view(loop.time()).modules if m.module_id != 2]
        assert [m.master_link for m in others] == [Link.ONLINE] * 3
        pack.process.send_signal(signal.SIGINT)
        code, output = await finish(pack.process)
    assert code == 1  # a child died, even though the pack kept going
    # the master's own journal (same monotonic clock): lost one timeout after the last frame
    (lost_s,) = [t for t, text in pack.master_stats()["timed_events"]  # type: ignore[union-attr]
                 if text == "slave_lost set (fatal) at module 2"]
    assert last_frame_s is not None
    assert lost_s - last_frame_s <= master.slave_lost_timeout_s + 2 * master.tick_period_s
    assert "slave 2" in output
    assert "exited unexpectedly" in output


async def test_ctrl_c_stops_every_process_cleanly(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 2) as pack:
        pids = [pack.pid(role) for role in ("master", "slave 0", "slave 1", "hv-box", "vcu")]
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
        pids = [pack.pid(role) for role in ("master", "slave 0", "hv-box", "vcu")]
        pack.process.kill()
        await pack.process.wait()
        await wait_until(lambda: not any(alive(pid) for pid in pids), 5.0,
                         "children stop when the launcher is killed")


async def test_a_pack_with_authenticated_contactor_commands_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dbc.frames import MasterState

    monkeypatch.setenv("BMS_TEST_CONTACTOR_KEY", bytes(range(16)).hex())
    extra = '[contactors]\nauth_key_env = "BMS_TEST_CONTACTOR_KEY"\n'
    async with online_pack(tmp_path, 2, extra=extra) as pack:
        await wait_until(lambda: pack.observer.master_state is MasterState.NORMAL, 15.0,
                         "NORMAL with authenticated commands")
        pack.process.send_signal(signal.SIGINT)
        code, output = await finish(pack.process)
    assert code == 0, output
    assert "contactor commands authenticated" in (pack.run_dir / "master.log").read_text()


async def test_a_master_without_the_boxs_key_cannot_close(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The box with a key, the master with another: every close is refused."""
    from dbc.frames import MasterState

    monkeypatch.setenv("BMS_TEST_CONTACTOR_KEY", bytes(range(16)).hex())
    extra = '[contactors]\nauth_key_env = "BMS_TEST_CONTACTOR_KEY"\n'
    async with online_pack(tmp_path, 2, "--keep-going", extra=extra) as pack:
        os.kill(pack.pid("master"), signal.SIGKILL)  # a master without the key instead
        impostor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "master", "--config", str(pack.config), "--set",
            f"master.store_path={tmp_path / 'other.sqlite'}", "--set",
            'contactors.auth_key_env=""', stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            await wait_until(lambda: pack.observer.master_state in
                             (MasterState.PRECHARGE, MasterState.ERROR), 20.0,
                             "the impostor tries to close")
            await wait_until(lambda: pack.observer.master_state is MasterState.ERROR, 30.0,
                             "its closes refused: the precharge fails")
        finally:
            impostor.kill()
            await impostor.wait()
