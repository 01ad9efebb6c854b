"""`bms slave`: one module's process."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bms.cli_common import add_config_arguments, add_stats_argument, run_role
from bms.settings import Settings

MODULE_VARIABLE = "BMS_MODULE"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "slave", help="run one module slave on the pack bus",
        description="Run the slave of one module: measures its cells through the configured "
                    "AFE every measurement period, publishes voltages, temperatures and "
                    "status, and bleeds the cells the master commands (stopping by itself "
                    "when the command goes stale).")
    parser.add_argument("--module", type=module_from_environment, metavar="M",
                        default=os.environ.get(MODULE_VARIABLE),
                        help="module id, 0 .. pack.modules-1 (the CAN id offset); "
                             f"default: ${MODULE_VARIABLE} (one container per slave)")
    add_config_arguments(parser)
    add_stats_argument(parser)
    parser.set_defaults(run=run)


def module_from_environment(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a module number, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from slave.afe.registry import afe_problem
    from slave.service import run_slave

    if args.module is None:
        print(f"bms slave: which module? give --module M or set {MODULE_VARIABLE}",
              file=sys.stderr)
        return 2

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
