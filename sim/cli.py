"""`bms sim ...`: the simulated peers of the virtual pack, one process each."""

from __future__ import annotations

import argparse
from typing import Any

from bms.cli_common import add_config_arguments, run_role


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim", help="run a simulated peer of the virtual pack (current sensor, ...)",
        description="Simulated peers that the master cannot tell from real hardware.")
    peers = parser.add_subparsers(dest="peer", metavar="PEER", required=True)
    sensor = peers.add_parser(
        "current-sensor", help="IVT-S current sensor following the configured current profile",
        description="Publish IVT-S result frames: current (sim.current_sensor.profile), "
                    "pack voltage (the sum of the cells on the bus), power, charge, energy.")
    add_config_arguments(sensor)
    sensor.set_defaults(run=run_current_sensor)


def run_current_sensor(args: argparse.Namespace) -> int:
    from sim.current_sensor_service import run_current_sensor as run

    return run_role(
        args, "ivt",
        describe=lambda s: f"current sensor, profile of {len(s.sim.current_sensor.profile)} steps",
        service=run,
    )
