"""Start-up of one node process: the time from its spawn to its first frame on the pack bus.

A slave's first CellVoltages frame, the master's first MasterHeartbeat, each spawned alone as
`bms pack` spawns it (``python -m bms slave --module 0`` / ``bms master``) while a listener in
this process waits on the bus. Figures: the wall time to the first frame and the CPU time the
process had used by then (user + system, from /proc), the median of a few starts each, beside
a bare interpreter's start (``python -c pass``) on the same machine in the same minute.
Target: a slave's first frame within 0.5 s of its spawn on this machine.

The measurement itself is `testbed.first_frame.first_frame_s`: the SocketCAN group measures
the same in the guest kernel, and `testbed/startup.py` derives the multi-process tests'
deadlines from it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from testbed.first_frame import ROLES, Start, first_frame_s

TARGET_SLAVE_S = 0.5
STARTS = 5


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
