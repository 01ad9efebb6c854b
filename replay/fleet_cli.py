"""`bms fleet resim LOGS... --config pack.toml [--compare]`: many logs at once on Dask."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bms.cli_common import add_config_arguments, load_or_explain

if TYPE_CHECKING:
    from replay.fleet import LogResult

DESCRIPTION = """\
Re-simulate many CAN logs against one configuration, each as `bms log resim` does it, one
Dask task per log: on a local cluster of --workers processes (127.0.0.1 only), or on a
running cluster (--scheduler tcp://HOST:PORT, its workers with the project installed and
the logs at the same paths). Prints a line per log as it finishes and then a table: frames,
the first divergence from the log's own master (--compare), the trips (the re-simulated
master going to ERROR), the time. A log that fails is reported; the others go on. Exit 1
when a log failed or (--compare) diverged. docs/fleet.md.

examples:
  bms fleet resim logs/*.log --config pack.toml --compare
  bms fleet resim logs/*.mf4 --config pack.toml --set limits.cell_overvoltage_mv=[4150,4200,4300] \\
      --compare --csv results.csv
  bms fleet resim s3-mount/*.log --config pack.toml --scheduler tcp://10.0.0.5:8786
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("fleet", help="many logs at once on Dask: re-simulate",
                                   description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    resim = actions.add_parser("resim", help="`bms log resim` over many logs, one task each",
                               description=DESCRIPTION,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    resim.add_argument("logs", nargs="+", type=Path, metavar="LOG",
                       help="candump .log, python-can .asc/.blf/.csv, .mf4")
    resim.add_argument("--compare", action="store_true",
                       help="report each log's first decision that differs from its master's")
    resim.add_argument("--tolerance", type=float, default=0.3, metavar="S",
                       help="--compare: decisions this close in time agree (default 0.3 s)")
    resim.add_argument("--compare-from", type=float, default=0.0, metavar="S",
                       help="--compare: only decisions from this time of the log on")
    resim.add_argument("--workers", type=int, default=2, metavar="N",
                       help="local cluster: worker processes (default 2)")
    resim.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="a running Dask scheduler instead of a local cluster")
    resim.add_argument("--csv", type=Path, metavar="FILE", help="the table as CSV too")
    resim.add_argument("--json", type=Path, metavar="FILE",
                       help="the table and the summary as JSON too")
    add_config_arguments(resim)
    resim.set_defaults(run=run_fleet_resim)


def run_fleet_resim(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from replay.fleet import run_fleet, summarise

    settings = load_or_explain(args)
    if settings is None:
        return 2
    if args.check_config:
        print(f"configuration OK: {len(args.logs)} logs, {settings.pack.modules} x "
              f"{settings.pack.cells_per_module} cells")
        return 0
    if args.workers < 1:
        print("bms fleet resim: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        import dask.distributed  # noqa: F401
    except ImportError as exc:
        print(f"bms fleet resim: {exc}: pip install -e '.[fleet]'", file=sys.stderr)
        return 1
    console = Console(stderr=True)
    started = time.monotonic()
    with Progress("re-simulating", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("logs", total=len(args.logs))

        def done(result: LogResult) -> None:
            progress.advance(task)
            progress.console.print(_line(result), highlight=False, markup=False)
        results = run_fleet([str(p) for p in args.logs],
                            str(args.config) if args.config else None, args.overrides,
                            compare=args.compare,
                            tolerance_s=args.tolerance, from_s=args.compare_from,
                            workers=args.workers, scheduler=args.scheduler, on_result=done)
    summary = summarise(results, time.monotonic() - started)
    print(f"{'log':40} {'frames':>10} {'trips':>5} {'time s':>7}  first divergence / error")
    for r in results:
        what = r.error or r.divergence or ("no divergence" if args.compare else "")
        print(f"{_short(r.log):40} {r.frames:10,} {r.trips:5} {r.seconds:7.1f}  {what}")
    print(f"# {summary.logs} logs, {summary.frames:,} frames in {summary.wall_s:.1f} s "
          f"({summary.frames_per_s:,.0f} frames/s; the workers' time {summary.worker_s:.1f} s)"
          f"; {summary.diverged} diverged, {summary.trips} trips, {summary.failed} failed")
    if args.csv:
        with args.csv.open("w", newline="") as f:
            rows = [r.as_row() for r in results]
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if args.json:
        args.json.write_text(json.dumps({"results": [r.as_row() for r in results],
                                         "summary": summary.__dict__}, indent=1))
    return 1 if summary.failed or (args.compare and summary.diverged) else 0


def _short(path: str, width: int = 40) -> str:
    return path if len(path) <= width else "..." + path[-(width - 3):]


def _line(r: LogResult) -> str:
    if r.error:
        return f"failed   {r.log}: {r.error}"
    if r.divergence:
        return f"diverged {r.log} at {r.divergence_s:.3f} s"
    return f"done     {r.log}: {r.frames:,} frames, {r.trips} trips, {r.seconds:.1f} s"
