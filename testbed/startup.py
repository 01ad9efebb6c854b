"""Deadlines for starting processes, derived from a start-up measured on this machine now.

A test that starts a pack waits until every process is up. How long that takes is set by
the machine (a slower or busier one takes longer), not by the code under test: the
deadline is worked out from one node's start-up measured at the test run's first pack
(`testbed.first_frame.first_frame_s`: a slave and a master spawned alone, each to its first
frame), so that the
same test holds on a quiet fast machine, a loaded 2-core one and an emulated guest.

    deadline = SAFETY x (other processes x slave's start-up / cores + master's start-up
                         + settle)

The launcher and the plant's processes start at once and share the cores; the master starts
once they are heard (`sim.launcher`); ``settle`` is the time from the master's first frame
to the status the test waits for (DBC cycle times and periods, stretched by
``pack.time_scale`` as the processes stretch them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bms.settings import Settings
from dbc.codec import pack_codec
from dbc.frames import ModulesOnlineMask
from sim.launcher import Launcher
from testbed.first_frame import first_frame_s

SAFETY = 4.0  # processes never start perfectly in parallel, and other work may join in


@dataclass(frozen=True)
class Deadline:
    seconds: float
    why: str

    def __str__(self) -> str:
        return f"{self.seconds:.1f} s = {self.why}"


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pack_processes(settings: Settings) -> int:
    """The processes `bms pack` runs for these settings: the launcher and its children."""
    return 1 + len(Launcher(settings, [], Path(os.devnull)).plan())


def settle_s(settings: Settings) -> float:
    """From the last process's first frame to the master reporting every module online:
    two measurement periods and two cycles of the master's status page."""
    mask_s = pack_codec().layout_of(ModulesOnlineMask).cycle_time_s or 1.0
    return 2 * (settings.slave.measurement_period_s + mask_s * settings.pack.time_scale)


@dataclass(frozen=True)
class NodeStarts:
    """Measured start-ups (spawn to first frame) of one slave and one master."""

    slave_s: float
    master_s: float


def pack_start_deadline(settings: Settings, starts: NodeStarts, extra_s: float = 0.0,
                        extra_why: str = "") -> Deadline:
    processes, n = pack_processes(settings), cores()
    settle = settle_s(settings) + extra_s
    plant_s = (processes - 1) * starts.slave_s / n
    seconds = SAFETY * (plant_s + starts.master_s + settle)
    return Deadline(seconds, f"{SAFETY:g} x ({processes - 1} processes x {starts.slave_s:.2f} s"
                             f" / {n} cores + master {starts.master_s:.2f} s, measured start-ups,"
                             f" + {settle:.1f} s to settle{extra_why})")


_measured: list[NodeStarts] = []


async def node_starts(bus: dict[str, Any], config_args: list[str]) -> NodeStarts:
    """A slave's and a master's start-up on this machine, measured once per test run."""
    if not _measured:
        slave = await first_frame_s("slave", bus, config_args)
        master = await first_frame_s("master", bus, config_args)
        _measured.append(NodeStarts(slave.first_frame_s, master.first_frame_s))
    return _measured[0]
