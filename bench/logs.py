"""Log tools: `bms log decode` and `bms log resim` on a one-hour log of a 256-cell pack,
beside `cantools decode` on the same (candump) log, all timed in the same run; then the
same log as MF4 and as decoded Parquet (`bms log convert`): their sizes, and how fast each
gives its contents back.

The log is made by the whole virtual pack on virtual time (lockstep), pack and vehicle
buses, and kept in bench/results/ for the next runs. Targets: resim at least 25 x faster
than a saturated 500 kbit/s bus, about 100,000 frames per second; reading the decoded
signals from Parquet at least 10 x faster than `cantools decode` of the candump file, and
the Parquet files at most 1/5 of its size.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import can

from bms.compiled import PURE_ENV
from bms.settings import load_settings
from dbc.busload import max_frames_per_s
from dbc.database import dbc_path
from sim.lockstep import LockstepPack

RESULTS = Path(__file__).resolve().parent / "results"
MODULES = 16
# a storage-like rhythm that neither empties nor fills the pack in an hour
PROFILE = "[{duration_s=60, current_c=-1.0}, {duration_s=60, current_c=0.95}]"
SATURATED_FPS = max_frames_per_s(8, 500_000, worst_case=False)
TARGET_FPS = 25 * 4000  # "25 x a saturated bus, about 100,000 frames per second"
TARGET_PARQUET_SPEEDUP = 10.0  # reading its signals against cantools decode of the candump
TARGET_PARQUET_SIZE = 0.2  # of the candump file


def overrides() -> list[str]:
    return [f"pack.modules={MODULES}", f"sim.vcu.profile={PROFILE}"]


def make_log(path: Path, minutes: float) -> int:
    settings = load_settings(None, overrides())
    pack = LockstepPack(settings)
    count, started, next_report = 0, time.monotonic(), 300.0
    with can.Logger(str(path)) as writer:
        while pack.now_s < minutes * 60:
            for item in pack.step():
                if item.bus == "sim":
                    continue
                writer.on_message_received(can.Message(
                    timestamp=1_764_000_000.0 + item.time_s,
                    arbitration_id=item.frame.arbitration_id, data=item.frame.data,
                    is_extended_id=item.frame.is_extended_id, channel=item.bus))
                count += 1
            if pack.now_s >= next_report:
                next_report += 300.0
                print(f"\r   making the log: {pack.now_s / 60:4.0f} of {minutes:.0f} min "
                      f"({time.monotonic() - started:.0f} s)", end="", flush=True)
    print(flush=True)
    return count


def code_of(bms: list[str]) -> str:
    """What a new bms process runs on: the compiled build or plain Python."""
    return subprocess.run([*bms, "compiled", "status"], capture_output=True, text=True,
                          check=True).stdout.strip()


def timed(command: list[str], stdin: Path | None = None, pure: bool = False) -> float:
    env = {k: v for k, v in os.environ.items() if k != PURE_ENV}
    if pure:
        env[PURE_ENV] = "1"
    started = time.monotonic()
    with (stdin or Path(os.devnull)).open("rb") as source:
        subprocess.run(command, stdin=source, stdout=subprocess.DEVNULL, env=env, check=True)
    return time.monotonic() - started


async def run(seconds: float, minutes: float = 60.0) -> dict[str, Any]:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"hour-{MODULES}x16-{minutes:g}min.log"
    if not path.exists():
        print(f"   making a {minutes:g}-minute log of a {MODULES} x 16 pack (once, kept in "
              f"{path.parent})", flush=True)
        make_log(path, minutes)
    frames = sum(1 for _ in path.open())
    span_s = minutes * 60
    print(f"log: {path.name}, {frames:,} frames over {span_s:.0f} s "
          f"({frames / span_s:.0f} frames/s), {path.stat().st_size / 1e6:.0f} MB")
    bms = [sys.executable, "-m", "bms"]
    sets = [arg for o in overrides() for arg in ("--set", o)]
    results: dict[str, Any] = {"frames": frames, "log_span_s": span_s}
    status = code_of(bms)
    print(f"   the bms commands: {status}")
    resim_command = [*bms, "log", "resim", str(path), *sets]
    for name, command, stdin, pure in (
        # one line per frame, like cantools decode --single-line
        ("bms log decode", [*bms, "log", "decode", str(path)], None, False),
        ("cantools decode", [sys.executable, "-m", "cantools", "decode", "--single-line",
                             str(dbc_path("pack.dbc"))], path, False),
        ("bms log resim", resim_command, None, False),
        ("resim, plain", resim_command, None, True),
    ):
        if pure and not status.startswith("compiled"):
            continue  # the run above was plain Python already
        print(f"   {name} ...", end="", flush=True)
        took = timed(command, stdin, pure)
        fps = frames / took
        results[name] = {"seconds": took, "frames_per_s": fps, "x_real_time": span_s / took}
        print(f"\r   {name:16} {took:7.1f} s  {fps:9,.0f} frames/s  "
              f"{span_s / took:6.0f} x real time")
    if code_of(bms) != status:
        print("   WARNING: the sources changed during the run (the timings mix compiled and plain)")
    decode, cantools_fps = results["bms log decode"], results["cantools decode"]["frames_per_s"]
    resim = results["bms log resim"]
    ratio = decode["frames_per_s"] / cantools_fps
    print(f"\n   decode vs cantools decode (same log): {ratio:.2f} x")
    if "resim, plain" in results:
        print(f"   resim compiled vs plain Python (same log): "
              f"{resim['frames_per_s'] / results['resim, plain']['frames_per_s']:.2f} x")
    print(f"   resim: {resim['frames_per_s'] / SATURATED_FPS:.1f} x a saturated 500 kbit/s bus "
          f"({SATURATED_FPS:,.0f} frames/s); target {TARGET_FPS:,} frames/s -> ratio "
          f"{resim['frames_per_s'] / TARGET_FPS:.2f} "
          f"({'met' if resim['frames_per_s'] >= TARGET_FPS else 'NOT met'})")
    columnar = columnar_figures(path, bms, results["cantools decode"]["seconds"], frames)
    results["columnar"] = columnar
    results["targets_met"] = resim["frames_per_s"] >= TARGET_FPS and columnar["targets_met"]
    return results


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else \
        path.stat().st_size


def read_parquet_signals(directory: Path) -> int:
    """Every decoded value of every table into memory, as an analysis would; the count."""
    import pyarrow.parquet as pq

    values = 0
    for table_path in sorted(directory.glob("*.parquet")):
        table = pq.read_table(str(table_path))
        for column in table.columns:
            values += len(column.to_numpy(zero_copy_only=False))
    return values


def columnar_figures(path: Path, bms: list[str], cantools_s: float, frames: int
                     ) -> dict[str, Any]:
    """The log as MF4 and as decoded Parquet: sizes, conversion and read times."""
    mf4, parquet = path.with_suffix(".mf4"), path.with_suffix(".parquet")
    candump_bytes = path.stat().st_size
    figures: dict[str, Any] = {"candump_mb": candump_bytes / 1e6}
    for name, target in (("mf4", mf4), ("parquet", parquet)):
        print(f"   bms log convert -o {target.name} ...", end="", flush=True)
        took = timed([*bms, "log", "convert", str(path), "-o", str(target)])
        size = _size(target)
        figures[name] = {"convert_s": took, "mb": size / 1e6, "of_candump": size / candump_bytes}
        print(f"\r   convert to {name:8} {took:7.1f} s  {size / 1e6:7.1f} MB "
              f"({size / candump_bytes:.3f} of the candump file)")
    took = timed([*bms, "log", "decode", str(mf4)])
    figures["mf4"]["decode_s"] = took
    print(f"   bms log decode of the MF4: {took:.1f} s, {frames / took:,.0f} frames/s")
    started = time.monotonic()
    values = read_parquet_signals(parquet)
    read_s = time.monotonic() - started
    speedup = cantools_s / read_s
    size_ratio = figures["parquet"]["of_candump"]
    figures["parquet"].update({"read_s": read_s, "values": values,
                               "speedup_vs_cantools": speedup})
    print(f"   every decoded value from Parquet ({values:,} values): {read_s:.2f} s, "
          f"{speedup:.0f} x faster than cantools decode of the candump ({cantools_s:.1f} s); "
          f"target {TARGET_PARQUET_SPEEDUP:g} x -> "
          f"{'met' if speedup >= TARGET_PARQUET_SPEEDUP else 'NOT met'}")
    print(f"   Parquet size {size_ratio:.3f} of the candump file; target <= "
          f"{TARGET_PARQUET_SIZE:g} -> {'met' if size_ratio <= TARGET_PARQUET_SIZE else 'NOT met'}")
    figures["targets_met"] = speedup >= TARGET_PARQUET_SPEEDUP and \
        size_ratio <= TARGET_PARQUET_SIZE
    return figures
