"""`bms slave`: one module's process."""

from __future__ import annotations

import argparse
from typing import Any

from bms.cli_common import add_config_arguments, add_stats_argument, run_role
from bms.settings import Settings


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
    from slave.afe.registry import afe_problem
    from slave.service import run_slave

    def problem(settings: Settings) -> str | None:
        if not 0 <= args.module < settings.pack.modules:
            return (f"--module {args.module}: must be 0..{settings.pack.modules - 1} "
                    f"(pack.modules = {settings.pack.modules})")
        return afe_problem(settings)

    return run_role(
        args, f"slave{args.module}",
        describe=lambda s: (f"slave {args.module}, {s.pack.cells_per_module} cells, "
                            f"AFE {s.slave.afe}"),
        service=lambda s: run_slave(s, args.module, args.stats_file),
        problem=problem,
    )
