"""Footprint of one slave process (issue 7): resident memory and CPU share at the default
measurement period with 16 cells. Target: <= 35 MB RSS and <= 3 % of one core.

1. alone: one slave on the bus with nothing else talking;
2. inside a running 16 x 16 virtual pack on udp_multicast: the bus carries about 1,100
   frames/s, of which a slave's socket filter (bms.multicast_filter, in the kernel as
   SocketCAN's filters are) lets through its own few.

CPU comes from /proc/PID/stat (user + system ticks) over the window after a settle time;
memory is VmRSS at the end and VmHWM (the peak).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODULES = 16
CELLS = 16
TARGET_RSS_MB = 35.0
TARGET_CPU_SHARE = 0.03
SETTLE_S = 4.0
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime, stime


def memory_mb(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


async def measure(pids: list[int], seconds: float) -> list[dict[str, float]]:
    start_cpu, start_s = [cpu_s(p) for p in pids], time.monotonic()
    await asyncio.sleep(seconds)  # the measurement window itself
    elapsed_s = time.monotonic() - start_s
    rows = []
    for pid, before in zip(pids, start_cpu, strict=True):
        rss_mb, peak_mb = memory_mb(pid)
        rows.append({"cpu_share": (cpu_s(pid) - before) / elapsed_s, "rss_mb": rss_mb,
                     "peak_rss_mb": peak_mb})
    return rows


async def alone(seconds: float) -> dict[str, float]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bms", "slave", "--module", "0", "--set",
        f"pack.cells_per_module={CELLS}", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.sleep(SETTLE_S)
        if process.returncode is not None:
            raise RuntimeError(f"the slave exited with {process.returncode}")
        (row,) = await measure([process.pid], seconds)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
    return row


async def in_pack(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bms-footprint-") as run_dir:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "pack", "--headless", "--no-web", "--duration",
            str(SETTLE_S + seconds + 2), "--run-dir", run_dir, "--set",
            f"pack.modules={MODULES}", "--set", f"pack.cells_per_module={CELLS}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.sleep(SETTLE_S)
            children = json.loads((Path(run_dir) / "children.json").read_text())
            slaves = [c["pid"] for role, c in children.items() if role.startswith("slave")]
            rows = await measure(slaves, seconds)
        finally:
            await process.wait()
    return {"slaves": len(rows),
            "cpu_share_median": statistics.median(r["cpu_share"] for r in rows),
            "cpu_share_max": max(r["cpu_share"] for r in rows),
            "rss_mb_max": max(r["rss_mb"] for r in rows),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rows)}


async def run(seconds: float) -> dict[str, Any]:
    print(f"one slave, {CELLS} cells, simulated AFE, default 100 ms period; window {seconds:.0f} s "
          f"after {SETTLE_S:.0f} s")
    single = await alone(seconds)
    print(f"1. alone on the bus: RSS {single['rss_mb']:.1f} MB (peak {single['peak_rss_mb']:.1f})"
          f" -> ratio {single['rss_mb'] / TARGET_RSS_MB:.2f} to {TARGET_RSS_MB:.0f} MB; CPU "
          f"{single['cpu_share'] * 100:.2f} % of one core -> ratio "
          f"{single['cpu_share'] / TARGET_CPU_SHARE:.2f} to {TARGET_CPU_SHARE * 100:.0f} %",
          flush=True)
    pack = await in_pack(seconds)
    print(f"2. in a {MODULES} x {CELLS} pack on udp_multicast ({pack['slaves']} slaves): CPU "
          f"median {pack['cpu_share_median'] * 100:.2f} %, max {pack['cpu_share_max'] * 100:.2f}"
          f" % -> ratio {pack['cpu_share_median'] / TARGET_CPU_SHARE:.2f}; RSS max "
          f"{pack['rss_mb_max']:.1f} MB (peak {pack['peak_rss_mb_max']:.1f})")
    targets_met = (single["rss_mb"] <= TARGET_RSS_MB and pack["rss_mb_max"] <= TARGET_RSS_MB
                   and single["cpu_share"] <= TARGET_CPU_SHARE
                   and pack["cpu_share_median"] <= TARGET_CPU_SHARE)
    print(f"target (<= {TARGET_RSS_MB:.0f} MB, <= {TARGET_CPU_SHARE * 100:.0f} % of a core, "
          f"alone and in the pack): {'met' if targets_met else 'NOT met'}")
    return {"alone": single, "in_pack": pack, "targets_met": targets_met}
