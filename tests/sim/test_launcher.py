"""The virtual pack's launcher: the master after the plant; a child that died is reported,
even just before the stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bms.settings import Settings
from sim.broker import BrokerPlan
from sim.launcher import Child, DashboardPlan, Launcher
from testbed.waiting import wait_until

IDLE = [sys.executable, "-c", "import signal; signal.pause()"]  # until a signal


class IdleLauncher(Launcher):
    def plan(self) -> list[Child]:
        self.children = [Child(role, IDLE, self.run_dir / f"{role}.log")
                         for role in ("master", "slave-0")]
        return self.children


async def test_a_child_killed_just_before_the_stop_is_a_death(tmp_path: Path) -> None:
    """`bms pack --keep-going` once exited 0 when the master died just before Ctrl-C: the
    stop found it unreaped, took its exit as the one it asked for and reported nothing."""
    launcher = IdleLauncher(Settings(), [], tmp_path)
    await launcher.start()
    os.kill(launcher.child("master").pid or 0, signal.SIGKILL)
    await launcher.stop()  # no wait between: reaped by the watcher or by the stop
    exits = launcher.unreported_exits()
    assert [(e.child.role, e.code) for e in exits] == [("master", -signal.SIGKILL)]


async def test_children_stopped_by_the_launcher_are_no_deaths(tmp_path: Path) -> None:
    launcher = IdleLauncher(Settings(), [], tmp_path)
    await launcher.start()
    await launcher.stop()
    assert launcher.unreported_exits() == []
    assert [c.exit_code for c in launcher.children] == [-signal.SIGTERM] * 2


async def test_the_master_starts_once_the_plant_is_heard(tmp_path: Path) -> None:
    """A master started beside a dozen interpreters on a loaded machine latched
    `current_sensor_lost` before the HV box was up: it now starts after the plant."""
    launcher = IdleLauncher(Settings(), [], tmp_path)
    missing = ["module 0", "the current sensor"]
    starting = asyncio.create_task(launcher.start(lambda: list(missing), wait_s=600.0))
    try:
        await wait_until(lambda: bool(launcher.children and launcher.child("slave-0").pid), 60.0,
                         "the slave spawned")
        assert launcher.child("master").pid is None
        missing.clear()
        assert await asyncio.wait_for(starting, 60.0) == []
        assert launcher.child("master").pid is not None
    finally:
        await launcher.stop()


async def test_the_master_starts_anyway_after_the_wait(tmp_path: Path) -> None:
    launcher = IdleLauncher(Settings(), [], tmp_path)
    try:
        assert await launcher.start(lambda: ["module 0"], wait_s=0.2) == ["module 0"]
        assert launcher.child("master").pid is not None
    finally:
        await launcher.stop()


async def test_a_plant_child_that_dies_ends_the_wait(tmp_path: Path) -> None:
    launcher = IdleLauncher(Settings(), [], tmp_path)
    starting = asyncio.create_task(launcher.start(lambda: ["module 0"], wait_s=600.0))
    try:
        await wait_until(lambda: bool(launcher.children and launcher.child("slave-0").pid), 60.0,
                         "the slave spawned")
        os.kill(launcher.child("slave-0").pid or 0, signal.SIGKILL)
        assert await asyncio.wait_for(starting, 60.0) == ["module 0"]
        assert launcher.child("master").pid is not None
    finally:
        await launcher.stop()


async def test_a_stop_during_the_wait_starts_no_master(tmp_path: Path) -> None:
    launcher = IdleLauncher(Settings(), [], tmp_path)
    stop = asyncio.Event()
    stop.set()
    try:
        await launcher.start(lambda: ["module 0"], wait_s=600.0, stop=stop)
        assert launcher.child("master").pid is None
        assert launcher.child("slave-0").pid is not None
    finally:
        await launcher.stop()


def test_with_the_dashboard_the_master_publishes_to_the_pack_s_own_broker(tmp_path: Path
                                                                          ) -> None:
    plan = DashboardPlan(BrokerPlan(tmp_path / "mosquitto.conf", 18830, {}), 8081,
                         tmp_path / "web.sock")
    children = {c.role: c.argv for c in Launcher(Settings(), [], tmp_path, plan).plan()}
    assert children["broker"] == ["mosquitto", "-c", str(tmp_path / "mosquitto.conf")]
    master = " ".join(children["master"])
    assert "mqtt.enabled=true" in master
    assert "mqtt.port=18830" in master
    assert "mqtt.username=bms-master" in master
    web = " ".join(children["web"])
    assert "web.port=8081" in web
    assert "mqtt.port=18830" in web
    assert f"--unix {tmp_path / 'web.sock'}" in web
    without = [c.role for c in Launcher(Settings(), [], tmp_path).plan()]
    assert "broker" not in without
    assert "web" not in without
    assert "mqtt.enabled=true" not in " ".join(Launcher(Settings(), [], tmp_path).plan()[0].argv)
