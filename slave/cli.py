"""`bms slave`: one module's process."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bms.cli_common import add_config_arguments, add_stats_argument, config_ok, load_or_explain


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "slave", help="run one module slave on the pack bus",
        description="Run the slave of one module: measures its cells through the configured "
                    "AFE every measurement period, publishes voltages, temperatures and "
                    "status, and bleeds the cells the master commands (stopping by itself "
                    "when the command goes stale).")
    parser.add_argument("--module", type=int, required=True, metavar="M",
                        help="module id, 0 .. pack.modules-1 (the CAN id offset)")
    add_config_arguments(parser)
    add_stats_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args)
    if settings is None:
        return 2
    if not 0 <= args.module < settings.pack.modules:
        print(f"configuration error: --module {args.module}: must be 0..{settings.pack.modules - 1}"
              f" (pack.modules = {settings.pack.modules})", file=sys.stderr)
        return 2
    from slave.afe.registry import AFE_BACKENDS

    if settings.slave.afe not in AFE_BACKENDS:
        print(f"configuration error: slave.afe: unknown AFE backend {settings.slave.afe!r} "
              f"(known: {', '.join(sorted(AFE_BACKENDS))})", file=sys.stderr)
        return 2
    if args.check_config:
        return config_ok(f"slave {args.module}, {settings.pack.cells_per_module} cells, "
                         f"AFE {settings.slave.afe}")
    from bms.service import run_service, setup_logging
    from slave.service import run_slave

    setup_logging(args.log_level, f"slave{args.module}")
    return run_service(lambda: run_slave(settings, args.module, args.stats_file))
