"""`bms pack`: run the whole virtual pack from one command."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bms.cli_common import add_config_arguments, config_ok, load_or_explain


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pack", help="run the virtual pack: master, slaves, current sensor, live view",
        description="Start the virtual pack: one process per slave, the master and the "
                    "simulated current sensor, all on the configured pack bus, and show it "
                    "live. Prints the can.Bus arguments of each bus so other python-can tools "
                    "can attach. Ctrl-C stops every process; if a child dies, the launcher "
                    "says which and exits 1.")
    add_config_arguments(parser)
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop after S seconds, then check the pack was healthy "
                             "(exit 0) or not (exit 1)")
    parser.add_argument("--headless", action="store_true",
                        help="no live view: a progress line every 5 s (automatic when stdout "
                             "is not a terminal)")
    parser.add_argument("--run-dir", type=Path, metavar="DIR",
                        help="where logs and counters go (default: a new temporary directory)")
    parser.add_argument("--summary-json", type=Path, metavar="FILE",
                        help="also write the end-of-run summary here")
    parser.add_argument("--keep-going", action="store_true",
                        help="when a child dies, report it and keep the rest running "
                             "(for fault experiments); the exit code is still 1")
    parser.add_argument("--max-e2e-errors", type=int, default=0, metavar="N",
                        help="with --duration: E2E errors tolerated before the run counts as "
                             "failed (default 0)")
    parser.add_argument("--no-web", action="store_true",
                        help="no broker and no dashboard beside the pack (by default the "
                             "master publishes to a Mosquitto of its own and `bms web` serves "
                             "the dashboard; its URL and operator login are printed)")
    parser.add_argument("--web-port", type=int, default=8080, metavar="PORT",
                        help="the dashboard's port (default 8080; taken: any free one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args)
    if settings is None:
        return 2
    from master.cli import problem

    refusal = problem(settings)  # what the master would refuse: before starting anything
    if refusal is not None:
        print(f"configuration error: {refusal}", file=sys.stderr)
        return 2
    if args.check_config:
        return config_ok(f"virtual pack of {settings.pack.modules} x "
                         f"{settings.pack.cells_per_module} cells")
    if args.duration is not None and args.duration <= 0:
        print("--duration: must be positive", file=sys.stderr)
        return 2
    import asyncio

    from sim.pack_run import PackOptions, run_pack

    config_args = ["--config", str(args.config.resolve())] if args.config else []
    for override in args.overrides:
        config_args += ["--set", override]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix=f"bms-pack-{stamp}-"))
    options = PackOptions(
        config_args=config_args,
        run_dir=run_dir.resolve(),
        duration_s=args.duration,
        headless=args.headless or not sys.stdout.isatty(),
        keep_going=args.keep_going,
        max_e2e_errors=args.max_e2e_errors,
        summary_path=args.summary_json,
        web=not args.no_web,
        web_port=args.web_port,
    )
    return asyncio.run(run_pack(settings, options))
