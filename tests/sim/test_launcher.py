"""The virtual pack's launcher: a child that died is reported, even just before the stop."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from bms.settings import Settings
from sim.launcher import Child, Launcher

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
