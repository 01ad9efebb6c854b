"""`bms compiled`: build the compiled hot modules, or say whether they are used."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compiled", help="compile the hot modules with mypyc, or show whether they are used",
        description="build: compile the modules listed in bms/compiled.py with mypyc into "
                    "build/compiled/ (./run does it when the sources changed). status: say "
                    "whether this process uses that build or plain Python, and why. Exit 1 "
                    "when the build fails (plain Python is then used).")
    parser.add_argument("action", choices=("build", "status"))
    parser.add_argument("--if-stale", action="store_true",
                        help="build only when the build is missing or older than the sources")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bms import compiled

    if args.action == "status":
        print(compiled.current_status())
        return 0
    from bms import compiled_build

    with compiled_build.build_lock():
        if args.if_stale and compiled.is_fresh():
            return 0
        print(f"compiling {len(compiled.COMPILED)} modules and the codecs' functions written "
              f"from the DBC files with mypyc into "
              f"{compiled.BUILD_DIR} (once per change of the sources, about a minute)",
              file=sys.stderr, flush=True)
        try:
            compiled_build.build()
        except compiled_build.CompileError as exc:
            print(f"{exc}; plain Python is used", file=sys.stderr)
            return 1
    print(f"built; used from the next start: {len(compiled.COMPILED)} modules and the codecs' "
          "functions", file=sys.stderr)
    return 0
