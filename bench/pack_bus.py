"""Pack-bus figures of the foundation (issue 2).

1. Worst-case bus load of a 16 x 16 pack at 500 kbit/s with the default periods: the frames
   every core really encodes from the DBC (lockstep run), each costed with PROTOCOLS.md
   section 1. Target: every cell every 100 ms at <= 30 % worst-case load.
2. The same pack as real processes on udp_multicast: frames per second seen by an
   independent listener (ratio to the expected rate), cell refresh intervals, E2E losses.
3. Master CPU time per 1,000 frames: the pure core on recorded frames, and the real process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bms.can_port import CanPort
from bms.settings import Settings, bus_kwargs, load_settings
from dbc.busload import frame_bits
from dbc.codec import CanFrame, pack_codec
from dbc.frames import CellVoltages
from master.core import MasterCore
from sim.lockstep import LockstepPack, WireFrame

MODULES = 16
CELLS = 16
TARGET_BUS_LOAD = 0.30
TARGET_REFRESH_S = 0.100
LOCKSTEP_S = 10.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def traffic_table(frames: list[WireFrame], seconds: float, bitrate: int) -> dict[str, Any]:
    codec = pack_codec()
    per_message: dict[str, dict[str, float]] = {}
    for item in frames:
        name = codec.lookup(item.frame.arbitration_id)[0].name
        row = per_message.setdefault(name, {"frames": 0, "dlc": len(item.frame.data),
                                            "bits_worst": 0, "bits_nominal": 0})
        row["frames"] += 1
        row["bits_worst"] += frame_bits(len(item.frame.data))
        row["bits_nominal"] += frame_bits(len(item.frame.data), worst_case=False)
    for row in per_message.values():
        row["frames_per_s"] = row["frames"] / seconds
        row["load_worst"] = row["bits_worst"] / seconds / bitrate
    return {
        "messages": per_message,
        "frames_per_s": sum(r["frames"] for r in per_message.values()) / seconds,
        "load_worst": sum(r["bits_worst"] for r in per_message.values()) / seconds / bitrate,
        "load_nominal": sum(r["bits_nominal"] for r in per_message.values()) / seconds / bitrate,
    }


def refresh_intervals(times: dict[tuple[int, int], list[float]]) -> list[float]:
    return [b - a for series in times.values() for a, b in itertools.pairwise(series)]


def lockstep_figures(settings: Settings) -> tuple[dict[str, Any], list[WireFrame]]:
    pack = LockstepPack(settings)
    frames = [f for f in pack.run(LOCKSTEP_S) if f.bus == "pack"]
    table = traffic_table(frames, LOCKSTEP_S, int(settings.bus.pack["bitrate"]))
    groups: dict[tuple[int, int], list[float]] = defaultdict(list)
    for item in frames:
        decoded = pack_codec().decode(item.frame)
        if isinstance(decoded.frame, CellVoltages):
            groups[(decoded.module_id, decoded.frame.first_cell)].append(item.time_s)
    intervals = refresh_intervals(groups)
    table["cell_refresh_max_s"] = max(intervals)
    return table, frames


def master_core_cpu(settings: Settings, frames: list[WireFrame]) -> dict[str, float]:
    """The pure master core fed the lockstep frames (its own ticks included)."""
    core = MasterCore(settings, 0.0)
    received = [f for f in frames if f.node != "Master"]
    by_time: dict[float, list[CanFrame]] = defaultdict(list)
    for item in received:
        by_time[item.time_s].append(item.frame)
    start = time.process_time()
    for now, batch in sorted(by_time.items()):
        for frame in batch:
            core.on_pack_frame(frame, now)
        core.tick(now)
    cpu_s = time.process_time() - start
    return {"frames": len(received), "cpu_s": cpu_s,
            "cpu_ms_per_1000_frames": cpu_s / len(received) * 1e6}


async def real_pack(settings: Settings, overrides: list[str], seconds: float) -> dict[str, Any]:
    """Run `bms pack` headless and listen to its pack bus from this process."""
    loop = asyncio.get_running_loop()
    counts: Counter[str] = Counter()
    groups: dict[tuple[int, int], list[float]] = defaultdict(list)
    codec = pack_codec()
    settle_s = 3.0

    def on_frame(frame: CanFrame, now: float) -> None:
        if not measure_from <= now < measure_to:
            return
        try:
            decoded = codec.decode(frame)
        except Exception:  # counted, as the live view would
            counts["undecodable"] += 1
            return
        counts[decoded.layout.name] += 1
        if isinstance(decoded.frame, CellVoltages):
            groups[(decoded.module_id, decoded.frame.first_cell)].append(now)

    with tempfile.TemporaryDirectory(prefix="bms-bench-") as run_dir:
        summary_path = Path(run_dir) / "summary.json"
        argv = [sys.executable, "-m", "bms", "pack", "--headless", "--no-web", "--duration",
                str(seconds + settle_s), "--run-dir", run_dir, "--summary-json",
                str(summary_path), "--max-e2e-errors", "1000000"]
        for override in overrides:
            argv += ["--set", override]
        async with CanPort(bus_kwargs(settings, "pack"), "bench-listener") as port:
            measure_from = loop.time() + settle_s
            measure_to = measure_from + seconds
            port.subscribe(on_frame)
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await asyncio.sleep(settle_s + seconds)  # the measurement window itself
            await process.wait()
        summary = json.loads(summary_path.read_text())
    intervals = refresh_intervals(groups)
    master = summary["children"]["master"]["stats"]
    lost = sum(m["e2e_lost_frames"] for m in master["modules"].values())
    errors = sum(m["e2e_errors"] for m in master["modules"].values())
    return {
        "seconds": seconds,
        "frames_per_s": sum(counts.values()) / seconds,
        "frames_by_message": dict(counts),
        "cell_refresh_p50_s": statistics.median(intervals),
        "cell_refresh_p99_s": percentile(intervals, 0.99),
        "cell_refresh_max_s": max(intervals),
        "master_e2e_lost_frames": lost,
        "master_e2e_errors": errors,
        "master_frames_received": master["frames_received"],
        "master_process_cpu_s": master["cpu_time_s"],
        "master_process_cpu_ms_per_1000_frames":
            master["cpu_time_s"] / master["frames_received"] * 1e6,
        "pack_ok": summary["ok"],
        "pack_problems": summary["problems"],
    }


async def run(seconds: float) -> dict[str, Any]:
    overrides = [f"pack.modules={MODULES}", f"pack.cells_per_module={CELLS}"]
    settings = load_settings(None, overrides)
    bitrate = int(settings.bus.pack["bitrate"])
    print(f"pack: {MODULES} modules x {CELLS} cells = {MODULES * CELLS} cells, "
          f"{bitrate // 1000} kbit/s, default periods")

    expected, frames = lockstep_figures(settings)
    print(f"\n1. Traffic the cores encode (lockstep, {LOCKSTEP_S:.0f} s), worst-case stuffing:")
    print(f"   {'message':22} {'DLC':>3} {'frames/s':>9} {'load':>7}")
    for name, row in sorted(expected["messages"].items(), key=lambda kv: -kv[1]["load_worst"]):
        print(f"   {name:22} {row['dlc']:>3.0f} {row['frames_per_s']:>9.1f} "
              f"{row['load_worst'] * 100:>6.2f}%")
    print(f"   total {expected['frames_per_s']:.0f} frames/s: worst-case load "
          f"{expected['load_worst'] * 100:.1f} % (nominal {expected['load_nominal'] * 100:.1f} %),"
          f" target <= {TARGET_BUS_LOAD * 100:.0f} % -> ratio "
          f"{expected['load_worst'] / TARGET_BUS_LOAD:.2f}")
    print(f"   every cell refreshed at most every {expected['cell_refresh_max_s'] * 1000:.0f} ms")

    core = master_core_cpu(settings, frames)
    print(f"\n3a. Master pure core: {core['cpu_ms_per_1000_frames']:.1f} ms CPU per 1,000 frames "
          f"({core['frames']} frames and its 10 ms ticks); at "
          f"{expected['frames_per_s']:.0f} frames/s that is "
          f"{core['cpu_ms_per_1000_frames'] * expected['frames_per_s'] / 10_000:.1f} % of one core")

    print(f"\n2. Real processes on udp_multicast, {seconds:.0f} s after a 3 s settle ...",
          flush=True)
    real = await real_pack(settings, overrides, seconds)
    print(f"   seen {real['frames_per_s']:.0f} frames/s = "
          f"{real['frames_per_s'] / expected['frames_per_s']:.3f} x the lockstep rate")
    print(f"   cell refresh p50 {real['cell_refresh_p50_s'] * 1000:.1f} ms, p99 "
          f"{real['cell_refresh_p99_s'] * 1000:.1f} ms, max {real['cell_refresh_max_s'] * 1000:.1f}"
          f" ms (period {TARGET_REFRESH_S * 1000:.0f} ms)")
    print(f"   master E2E: {real['master_e2e_lost_frames']} frames lost, "
          f"{real['master_e2e_errors']} errors, of {real['master_frames_received']} received")
    print(f"3b. Master process: {real['master_process_cpu_ms_per_1000_frames']:.1f} ms CPU per "
          f"1,000 frames received (start-up, idle ticks and the sends included)")
    if not real["pack_ok"]:
        print(f"   pack problems: {real['pack_problems']}")
    targets_met = (expected["load_worst"] <= TARGET_BUS_LOAD
                   and expected["cell_refresh_max_s"] <= TARGET_REFRESH_S + 1e-6)
    print(f"\ntarget (every cell every 100 ms at <= 30 % worst-case load): "
          f"{'met' if targets_met else 'NOT met'}")
    return {"lockstep": expected, "master_core": core, "real": real, "targets_met": targets_met}
