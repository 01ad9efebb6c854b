"""The `bms` command: one subcommand per process or tool, each defined in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines add_parser(subparsers); heavy imports happen only when a command runs.
SUBCOMMAND_MODULES = (
    "sim.pack_cli",
    "master.cli",
    "slave.cli",
    "sim.cli",
    "sim.inject_cli",
    "replay.cli",
    "bms.config_cli",
    "bms.compiled_cli",
    "dbc.cli",
    "master.events_cli",
    "master.telemetry.monitor_cli",
)

DESCRIPTION = """\
A distributed battery management system: module slaves and a pack master talking CAN frames
defined in dbc/, a virtual pack to run them on, and tools around them.

Start with `bms pack` (the virtual pack with a live view). Every process takes the same pack
configuration (--config FILE, TOML); without one it runs the built-in virtual pack.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bms", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


# Commands whose process never speaks TLS: OpenSSL stays unloaded (asyncio imports it when it
# can, 5 MB of resident memory: a seventh of a slave's budget on a small board)
WITHOUT_TLS = frozenset({"slave"})


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] and words[0] in WITHOUT_TLS and "ssl" not in sys.modules:
        sys.modules["ssl"] = None  # type: ignore[assignment]  # import ssl: ImportError
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
