"""A node process's first frame: spawn one (``python -m bms slave --module 0`` or ``bms
master``, as `bms pack` spawns them) alone and wait on the pack bus for its first
CellVoltages or MasterHeartbeat. The start-up bench (`bench/startup.py`) reports it; the
multi-process tests derive their deadlines from it (`testbed/startup.py`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bms.can_port import CanPort
from dbc.codec import CanFrame, pack_codec
from dbc.errors import DbcError
from dbc.frames import CellVoltages, MasterHeartbeat

DEADLINE_S = 60.0


@dataclass(frozen=True)
class Start:
    first_frame_s: float  # spawn to the first frame heard
    cpu_s: float  # the process's CPU time by then


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def decoded_as(frame: CanFrame, frame_type: type) -> bool:
    try:
        return isinstance(pack_codec().decode(frame).frame, frame_type)
    except DbcError:
        return False


def is_slave_frame(frame: CanFrame) -> bool:
    return decoded_as(frame, CellVoltages)


def is_master_frame(frame: CanFrame) -> bool:
    return decoded_as(frame, MasterHeartbeat)


ROLES: dict[str, tuple[tuple[str, ...], Callable[[CanFrame], bool]]] = {
    "slave": (("slave", "--module", "0"), is_slave_frame),
    "master": (("master",), is_master_frame),
}


async def first_frame_s(role: str, bus: Mapping[str, Any], config_args: Sequence[str] = (),
                        deadline_s: float = DEADLINE_S) -> Start:
    """Spawn one ``role`` process and wait for its first frame on the pack bus ``bus``."""
    args, is_first = ROLES[role]
    heard = asyncio.Event()
    scratch = tempfile.TemporaryDirectory(prefix="bms-startup-")
    if role == "master":  # a store and black box of its own: nothing restored, nothing left
        args += ("--set", f"master.store_path={scratch.name}/bms.sqlite",
                 "--set", f"master.blackbox_dir={scratch.name}/blackbox")

    def on_frame(frame: CanFrame, _now: float) -> None:
        if not heard.is_set() and is_first(frame):
            heard.set()

    async with CanPort(bus, f"startup-listener/{role}") as port:
        port.subscribe(on_frame)
        spawned = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", *args, *config_args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        try:
            waiter = asyncio.ensure_future(heard.wait())
            exited = asyncio.ensure_future(process.wait())
            done, _ = await asyncio.wait({waiter, exited}, timeout=deadline_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            waited_s = time.monotonic() - spawned
            if waiter not in done:
                waiter.cancel()
                said = b""
                if exited in done and process.stderr is not None:
                    said = await process.stderr.read()
                raise RuntimeError(f"bms {role}: no first frame within {waited_s:.1f} s"
                                   f" (exit {process.returncode}): {said.decode()[-2000:]}")
            used_s = cpu_s(process.pid)
            exited.cancel()
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
            scratch.cleanup()
    return Start(waited_s, used_s)
