"""`bms sim ...`: the simulated peers of the virtual pack, one process each."""

from __future__ import annotations

import argparse
from typing import Any

from bms.cli_common import add_config_arguments, config_ok, load_or_explain


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
    settings = load_or_explain(args)
    if settings is None:
        return 2
    if args.check_config:
        steps = len(settings.sim.current_sensor.profile)
        return config_ok(f"current sensor, profile of {steps} steps")
    from bms.service import run_service, setup_logging
    from sim.current_sensor_service import run_current_sensor as run

    setup_logging(args.log_level, "ivt")
    return run_service(lambda: run(settings))
