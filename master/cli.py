"""`bms master`: the pack controller process."""

from __future__ import annotations

import argparse
from typing import Any

from bms.cli_common import add_config_arguments, add_stats_argument, config_ok, load_or_explain


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "master", help="run the pack master on the pack bus",
        description="Run the master: aggregates every slave into one pack state, watches "
                    "their links and E2E protection, sends the heartbeat, balancing commands "
                    "and status pages. Stops cleanly on SIGINT/SIGTERM.")
    add_config_arguments(parser)
    add_stats_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args)
    if settings is None:
        return 2
    if args.check_config:
        return config_ok(f"master of {settings.pack.modules} modules on {settings.bus.pack}")
    from bms.service import run_service, setup_logging
    from master.service import run_master

    setup_logging(args.log_level, "master")
    return run_service(lambda: run_master(settings, args.stats_file))
