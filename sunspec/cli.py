"""`bms sunspec`: the pack as SunSpec Modbus TCP for site controllers (docs/sunspec.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bms.cli_common import add_config_arguments, run_role
from bms.settings import Settings

DESCRIPTION = """\
Serve one pack as a SunSpec device over Modbus TCP: models 1 (common), 802 (battery),
803 (lithium-ion bank) and 804 (lithium-ion string), for site controllers and energy
managers (OpenEMS, evcc). It reads the pack's telemetry from the [mqtt] broker as the
read-only user of [sunspec] (sunspec.mqtt_username, its password in
sunspec.mqtt_password_env). Read-only unless sunspec.controls: then model 802's SetOp and
AlmRst become the master's operator commands (sent as sunspec.operator_username).
Listens on 127.0.0.1:5020 by default, unit id 1, the map at 40000.

examples:
  bms sunspec --config pack.toml
  bms sunspec --config pack.toml --set sunspec.listen=0.0.0.0 --set sunspec.port=502
  bms sunspec --pack garage-1 --set sunspec.port=0      (any free port; it is printed)
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("sunspec", help="the pack as SunSpec Modbus TCP (models 1, "
                                              "802, 803, 804)",
                              description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(p)
    p.add_argument("--pack", metavar="NAME",
                   help="the pack to serve (sets sunspec.pack; default: pack.name)")
    p.add_argument("--port-file", type=Path, metavar="FILE",
                   help="write the port here once it listens")
    p.set_defaults(run=run)


def _describe(settings: Settings) -> str:
    s = settings.sunspec
    return (f"SunSpec Modbus TCP on {s.listen}:{s.port}, unit {s.unit_id}, map at "
            f"{s.base_address}, pack {s.pack or settings.pack.name}, controls "
            f"{'on' if s.controls else 'off'}")


def _problem(settings: Settings) -> str | None:
    s = settings.sunspec
    if s.controls and s.operator_username and os.environ.get(s.operator_password_env) is None:
        return (f"sunspec.controls is on but {s.operator_password_env} (the password of "
                f"{s.operator_username}) is not set")
    return None


def run(args: argparse.Namespace) -> int:
    if args.pack:
        args.overrides.append(f"sunspec.pack={args.pack}")

    async def serve(settings: Settings) -> None:
        import asyncio

        from sunspec.service import Served, SunSpecService

        def served(where: Served) -> None:
            print(f"sunspec: modbus tcp {where.listen}:{where.port} unit {where.unit_id}, "
                  f"pack {where.pack}", flush=True)
            if args.port_file:
                args.port_file.write_text(f"{where.port}\n")

        await SunSpecService(settings).run(asyncio.Event(), served)

    return run_role(args, "sunspec", _describe, serve, _problem)
