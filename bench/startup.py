"""Start-up of one node process: the time from its spawn to its first frame on the pack bus.

A slave's first CellVoltages frame, the master's first MasterHeartbeat, each spawned alone as
`bms pack` spawns it (``python -m bms slave --module 0`` / ``bms master``) while a listener in
this process waits on the bus. Figures: the wall time to the first frame and the CPU time the
process had used by then (user + system, from /proc), the median of a few starts each, beside
a bare interpreter's start (``python -c pass``) on the same machine in the same minute.
Target: a slave's first frame within 0.5 s of its spawn on this machine.

`first_frame_s` is also what the SocketCAN group measures in the guest kernel, and
`testbed/startup.py` derives the multi-process tests' deadlines from the same measurement.
"""

from __future__ import annotations

import asyncio
import os
import statistics
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

TARGET_SLAVE_S = 0.5
STARTS = 5
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


async def bare_interpreter_s() -> float:
    spawned = time.monotonic()
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await process.wait()
    return time.monotonic() - spawned


def default_bus() -> dict[str, Any]:
    from bms.settings import bus_kwargs, load_settings

    return bus_kwargs(load_settings(None), "pack")


async def measure(starts: int = STARTS, bus: Mapping[str, Any] | None = None,
                  config_args: Sequence[str] = ()) -> dict[str, Any]:
    """The medians of ``starts`` starts of each role (alternated) and of a bare interpreter."""
    bus = default_bus() if bus is None else bus
    samples: dict[str, list[Start]] = {role: [] for role in ROLES}
    bare: list[float] = []
    for _ in range(starts):
        bare.append(await bare_interpreter_s())
        for role in ROLES:
            samples[role].append(await first_frame_s(role, bus, config_args))
    result: dict[str, Any] = {"bare_interpreter_s": statistics.median(bare), "starts": starts}
    for role, rows in samples.items():
        result[role] = {
            "first_frame_s": statistics.median(r.first_frame_s for r in rows),
            "cpu_s": statistics.median(r.cpu_s for r in rows),
            "samples_s": [round(r.first_frame_s, 3) for r in rows],
        }
    return result


async def run(seconds: float) -> dict[str, Any]:
    del seconds  # a start-up is as long as it is
    print(f"each role spawned alone {STARTS} times (alternated), as `bms pack` spawns it; "
          "a listener waits for its first frame on the pack bus")
    result = await measure()
    bare = result["bare_interpreter_s"]
    print(f"bare interpreter (python -c pass): {bare:.3f} s")
    for role in ROLES:
        row = result[role]
        print(f"{role}: first frame {row['first_frame_s']:.3f} s after its spawn (median; "
              f"samples {row['samples_s']}), CPU {row['cpu_s']:.3f} s by then, "
              f"{row['first_frame_s'] / bare:.1f} x a bare interpreter")
    slave_s = result["slave"]["first_frame_s"]
    result["targets_met"] = slave_s <= TARGET_SLAVE_S
    print(f"target (a slave's first frame <= {TARGET_SLAVE_S} s): ratio "
          f"{slave_s / TARGET_SLAVE_S:.2f}, {'met' if result['targets_met'] else 'NOT met'}")
    return result


def main() -> int:
    """``python -m bench.startup --socketcan vcan0``: the same figures on a SocketCAN bus
    (in the guest kernel that `./run bench startup` boots when it can)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=main.__doc__)
    parser.add_argument("--socketcan", metavar="CHANNEL", required=True,
                        help="the pack bus: a SocketCAN channel (vcan0)")
    parser.add_argument("--config", help="pack configuration file for the nodes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the nodes, as `bms --set` takes it")
    parser.add_argument("--starts", type=int, default=3, help="starts of each role (3)")
    args = parser.parse_args()
    config_args = ["--config", args.config] if args.config else []
    for override in args.set:
        config_args += ["--set", override]
    result = asyncio.run(measure(args.starts, {"interface": "socketcan", "channel":
                                               args.socketcan}, config_args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
