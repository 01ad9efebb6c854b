"""Options every process shares (--config, --set, --check-config, --log-level, --stats-file)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bms.errors import ConfigError
from bms.settings import Settings, load_settings

EXIT_CONFIG = 2


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration")
    group.add_argument("--config", type=Path, metavar="FILE",
                       help="pack configuration (TOML); default: the built-in virtual pack")
    group.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE",
                       help="override one setting, e.g. --set pack.modules=4 (repeatable)")
    group.add_argument("--check-config", action="store_true",
                       help="validate the configuration for this role, print it, and exit")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"], help="default: info")


def add_stats_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stats-file", type=Path, metavar="FILE",
                        help="write this process's counters as JSON when it stops")


def load_or_explain(args: argparse.Namespace) -> Settings | None:
    """The settings, or None after printing why they were refused."""
    try:
        return load_settings(args.config, args.overrides)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return None


def config_ok(what: str) -> int:
    print(f"configuration OK: {what}")
    return 0


def run_role(
    args: argparse.Namespace,
    role: str,
    describe: Callable[[Settings], str],
    service: Callable[[Settings], Coroutine[Any, Any, None]],
    problem: Callable[[Settings], str | None] = lambda settings: None,
) -> int:
    """The life of one process: settings, role checks, --check-config, then the service."""
    settings = load_or_explain(args)
    if settings is None:
        return EXIT_CONFIG
    refusal = problem(settings)
    if refusal is not None:
        print(f"configuration error: {refusal}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        return config_ok(describe(settings))
    from bms.service import run_service, setup_logging

    setup_logging(args.log_level, role)
    return run_service(lambda: service(settings))
