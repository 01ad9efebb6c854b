"""`bms fleet resim` on Dask: the speed-up from one local worker to two on this machine, and
the cost per frame against re-simulating the same logs one after another in one process (what
`bms log resim` does per log), all measured in one run.

The logs: 12 of 3 minutes of a 16 x 16 pack on virtual time (lockstep), each with its own
drive profile, kept in bench/results/fleet-logs/ for the next runs. Each cluster is started
and warmed (every worker has imported the project and re-simulated a log) before its timing:
the figures are the tasks' phase; the start-up is printed beside them. Target: two workers
at least 1.8 x as fast as one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import can

from bms.settings import load_settings
from replay.fleet import connect, local_cluster, resim_log, run_fleet
from sim.lockstep import LockstepPack

RESULTS = Path(__file__).resolve().parent / "results"
LOGS, MINUTES, MODULES = 12, 3.0, 16
TARGET_SPEEDUP = 1.8


def overrides() -> list[str]:
    return [f"pack.modules={MODULES}"]


def make_logs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(LOGS):
        path = folder / f"drive-{k:02d}.log"
        paths.append(path)
        if path.exists():
            continue
        discharge_c = 0.5 + 0.1 * k
        profile = (f"[{{duration_s={20 + 5 * k}, current_c=-{discharge_c:.2f}}}, "
                   f"{{duration_s=30, current_c=0.4}}]")
        pack = LockstepPack(load_settings(None, [*overrides(), f"sim.vcu.profile={profile}"]))
        partial = path.with_name(f"partial-{path.name}")  # the suffix names the format
        with can.Logger(str(partial)) as writer:
            while pack.now_s < MINUTES * 60:
                for item in pack.step():
                    if item.bus != "sim":
                        writer.on_message_received(can.Message(
                            timestamp=1_764_000_000.0 + item.time_s,
                            arbitration_id=item.frame.arbitration_id, data=item.frame.data,
                            is_extended_id=item.frame.is_extended_id, channel=item.bus))
        partial.rename(path)
        print(f"\r   made {k + 1} of {LOGS} logs", end="", flush=True)
    print(flush=True)
    return paths


def timed_fleet(paths: list[str], workers: int) -> tuple[float, float, int]:
    """(start-up s, tasks s, frames) on a fresh local cluster of ``workers``."""
    started = time.perf_counter()
    cluster = local_cluster(workers)
    client = connect(cluster)
    try:
        run_fleet(paths[:workers], None, overrides(), client=client)  # warm every worker
        ready = time.perf_counter()
        results = run_fleet(paths, None, overrides(), client=client)
        done = time.perf_counter()
    finally:
        client.close()
        cluster.close()
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} logs failed: {failed[0].error}")
    codes = {r.code for r in results}
    print(f"   (the workers ran: {', '.join(sorted(codes))})")
    return ready - started, done - ready, sum(r.frames for r in results)


async def run(seconds: float) -> dict[str, Any]:
    paths = [str(p) for p in make_logs(RESULTS / "fleet-logs")]
    started = time.perf_counter()
    single = [resim_log(p, None, overrides()) for p in paths]  # in this process, in turn
    single_s = time.perf_counter() - started
    frames = sum(r.frames for r in single)
    print(f"   {LOGS} logs, {frames:,} frames; in one process one after another: "
          f"{single_s:.1f} s ({frames / single_s:,.0f} frames/s, "
          f"{1e6 * single_s / frames:.1f} us/frame; {single[0].code})")
    figures: dict[str, Any] = {"logs": LOGS, "frames": frames, "single_s": single_s}
    for workers in (1, 2):
        startup_s, tasks_s, fleet_frames = timed_fleet(paths, workers)
        assert fleet_frames == frames
        figures[f"workers_{workers}"] = {"startup_s": startup_s, "tasks_s": tasks_s}
        print(f"   fleet, {workers} worker{'s' * (workers > 1)}: {tasks_s:.1f} s "
              f"({frames / tasks_s:,.0f} frames/s, {1e6 * tasks_s / frames:.1f} us/frame; "
              f"{single_s / tasks_s:.2f} x one process), cluster start and warm-up "
              f"{startup_s:.1f} s")
    speedup = figures["workers_1"]["tasks_s"] / figures["workers_2"]["tasks_s"]
    met = speedup >= TARGET_SPEEDUP
    print(f"   speed-up 1 -> 2 workers: {speedup:.2f} x (target >= {TARGET_SPEEDUP}: "
          f"{'met' if met else 'NOT met'}); cost per frame, one worker against one process: "
          f"{figures['workers_1']['tasks_s'] / single_s:.2f} x")
    figures.update(speedup=speedup, targets_met=met)
    return figures
