"""The `bms` command: one subcommand per process or tool, each defined in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bms.compiled import serve_plain

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


# A slave's process, on a small board, keeps to its memory budget (35 MB): it never speaks
# TLS, so OpenSSL stays unloaded (asyncio imports it when it can: 3 to 5 MB), and it runs the
# plain modules (the compiled build's library costs 2 MB and saves a slave measuring 16 cells
# ten times a second about a tenth of a per cent of a core)
LEAN_COMMANDS = frozenset({"slave"})


def main(argv: Sequence[str] | None = None) -> int:
    """The command of this process (``argv`` None: its own arguments) or, given ``argv``,
    one run inside another process, which keeps its modules as they are."""
    words = sys.argv[1:] if argv is None else []
    if words[:1] and words[0] in LEAN_COMMANDS:
        if "ssl" not in sys.modules:
            sys.modules["ssl"] = None  # type: ignore[assignment]  # import ssl: ImportError
        serve_plain(f"bms {words[0]}: memory before speed")
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
