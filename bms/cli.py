"""The `bms` command: one subcommand per process or tool, each defined in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bms.compiled import serve_plain, use_build

# Each module defines add_parser(subparsers) for the command it is listed under; a process
# imports only its own command's module (a node's start-up pays for no other command's
# imports), `bms --help` imports them all.
SUBCOMMAND_MODULES = {
    "pack": "sim.pack_cli",
    "master": "master.cli",
    "slave": "slave.cli",
    "sim": "sim.cli",
    "inject": "sim.inject_cli",
    "log": "replay.cli",
    "config": "master.config_cli",
    "compiled": "bms.compiled_cli",
    "dbc": "dbc.cli",
    "events": "master.events_cli",
    "monitor": "master.telemetry.monitor_cli",
    "cell": "cells.cli",
    "fleet": "replay.fleet_cli",
    "historian": "historian.cli",
    "web": "web.cli",
    "sunspec": "sunspec.cli",
    "site": "sitectl.cli",
}

DESCRIPTION = """\
A distributed battery management system: module slaves and a pack master talking CAN frames
defined in dbc/, a virtual pack to run them on, and tools around them.

Start with `bms pack` (the virtual pack with a live view). Every process takes the same pack
configuration (--config FILE, TOML); without one it runs the built-in virtual pack.
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone when it is one."""
    parser = argparse.ArgumentParser(
        prog="bms", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = [SUBCOMMAND_MODULES[command]] if command in SUBCOMMAND_MODULES else \
        SUBCOMMAND_MODULES.values()
    for name in names:
        importlib.import_module(name).add_parser(subparsers)
    return parser


# A slave's process, on a small board, keeps to its memory budget (35 MB): it never speaks
# TLS, so OpenSSL stays unloaded (asyncio imports it when it can: 3 to 5 MB), and it runs the
# plain modules (the compiled build's library costs 2 MB and saves a slave measuring 16 cells
# ten times a second about a tenth of a per cent of a core)
LEAN_COMMANDS = frozenset({"slave"})


def main(argv: Sequence[str] | None = None) -> int:
    """The command of this process (``argv`` None: its own arguments) or, given ``argv``,
    one run inside another process, which keeps its modules as they are."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = words[0] if words else None
    if argv is None:
        use_build()  # the process's own command: the compiled build, where it is fresh
    if argv is None and command in LEAN_COMMANDS:
        if "ssl" not in sys.modules:
            sys.modules["ssl"] = None  # type: ignore[assignment]  # import ssl: ImportError
        serve_plain(f"bms {command}: memory before speed")
    args = build_parser(command).parse_args(words)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
