"""`bms master`: the pack controller process."""

from __future__ import annotations

import argparse
from typing import Any

from bms.cli_common import add_config_arguments, add_stats_argument, run_role
from bms.errors import ConfigError
from bms.settings import Settings


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "master", help="run the pack master on the pack bus",
        description="Run the master: aggregates every slave into one pack state, watches "
                    "their links and E2E protection, sends the heartbeat, balancing commands "
                    "and status pages. Stops cleanly on SIGINT/SIGTERM.")
    add_config_arguments(parser)
    add_stats_argument(parser)
    parser.set_defaults(run=run)


def problem(settings: Settings) -> str | None:
    """What the master refuses beyond the settings' own checks: limits, diagnosis table, an
    inverter protocol of another voltage class than the pack's."""
    from dbc.contactor_auth import ContactorKeyError, key_from_environment
    from master.diagnosis.engine import build_table
    from master.diagnosis.limits import resolve_limits
    from master.endpoints import inverter_problem

    try:
        limits = resolve_limits(settings)
        build_table(settings.diagnosis)
        key_from_environment(settings.contactors.auth_key_env)
        return inverter_problem(settings, limits)
    except (ConfigError, ContactorKeyError) as exc:
        return f"contactors.auth_key_env: {exc}" if isinstance(exc, ContactorKeyError) \
            else str(exc)


def run(args: argparse.Namespace) -> int:
    from master.service import run_master

    return run_role(
        args, "master",
        describe=lambda s: f"master of {s.pack.modules} modules on {s.bus.pack}",
        service=lambda s: run_master(s, args.stats_file),
        problem=problem,
    )
