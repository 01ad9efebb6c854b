"""`bms dbc`: tools around the DBC contract."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_C_OUT = Path("build/mcu")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("dbc", help="tools around the DBC files (C source for MCUs)")
    commands = parser.add_subparsers(dest="dbc_command", metavar="TOOL", required=True)
    c_source = commands.add_parser(
        "c-source", help="generate C pack/unpack code for the pack bus (microcontroller slaves)",
        description="Generate pack.h and pack.c from dbc/pack.dbc with cantools' C generator: "
                    "one struct and one pack/unpack function per pack-bus message. Compile "
                    "them with deploy/mcu/bms_e2e.c, which adds the E2E CRC and alive counter; "
                    "deploy/mcu/example_slave.c shows a cell-voltage frame end to end.")
    c_source.add_argument("--out", type=Path, default=DEFAULT_C_OUT,
                          help=f"output directory (default {DEFAULT_C_OUT})")
    c_source.add_argument("--no-floating-point", action="store_true",
                          help="leave out the double-based encode/decode helpers (FPU-less MCUs)")
    c_source.set_defaults(run=run_c_source)


def run_c_source(args: argparse.Namespace) -> int:
    from dbc.c_source import generate_c_source

    for path in generate_c_source(args.out, not args.no_floating_point):
        print(f"wrote {path}")
    return 0
