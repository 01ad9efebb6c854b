"""`bms sim ...`: the simulated peers of the virtual pack, one process each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bms.cli_common import add_config_arguments, add_stats_argument, run_role
from bms.settings import Settings


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim", help="simulated peers of the virtual pack (HV box, VCU, charger, inverter), "
             "and scenarios",
        description="Simulated peers that the master cannot tell from real hardware, and "
                    "`bms sim run`: a scenario on the lockstep pack.")
    peers = parser.add_subparsers(dest="peer", metavar="PEER", required=True)
    box = peers.add_parser(
        "hv-box", help="contactors, precharge, DC link, fuse and the IVT-S current sensor",
        description="The HV box: obeys ContactorCommand (and opens everything when commands "
                    "stop), reports ContactorFeedback with the DC-link voltage, and publishes "
                    "IVT-S results for the current its circuit lets flow.")
    add_config_arguments(box)
    box.set_defaults(run=run_hv_box)
    vcu = peers.add_parser(
        "vcu", help="the vehicle control unit: state request, heartbeat, the vehicle's load",
        description="The VCU: sends VcuRequest every period (sim.vcu.request after "
                    "sim.vcu.start_delay_s), logs the BmsStatus it receives, and draws the "
                    "sim.vcu.profile current while the BMS is in NORMAL. Steer it with "
                    "`bms inject vcu`.")
    add_config_arguments(vcu)
    vcu.set_defaults(run=run_vcu)
    charger = peers.add_parser(
        "charger", help="an Elcon/TC charger on the vehicle bus",
        description="The charger: follows the master's ElconCommand (voltage and current "
                    "ceilings, start/stop) within its own power, current and ramp limits, "
                    "regulates the charge voltage, stops after 5 s without a command, and "
                    "reports its status every second. `bms inject charger` sets its flags.")
    add_config_arguments(charger)
    charger.set_defaults(run=run_charger)
    inverter = peers.add_parser(
        "inverter", help="a battery inverter speaking endpoints.inverter's protocol",
        description="The inverter of endpoints.inverter (can_bms, byd_hvs, pylon_hv) on the "
                    "inverter's bus: identifies the battery where its protocol has a "
                    "handshake, moves the sim.inverter.profile current within the limits and "
                    "flags it is sent (dropping limits it does not accept), stops when they "
                    "stop, and sends its own frames every sim.inverter.keep_alive_period_s.")
    add_config_arguments(inverter)
    add_stats_argument(inverter)
    inverter.set_defaults(run=run_inverter)
    site_bus = peers.add_parser(
        "site-bus", help="the virtual site's DC bus: every pack's HV box and the site's "
                         "inverter in one process",
        description="The DC side of the virtual site (`bms site virtual` starts it): every "
                    "pack's HV box in shared-bus mode on one DC bus, each on its own pack's "
                    "pack and simulation buses, and the inverter of the site's "
                    "endpoints.inverter on the site's inverter bus. --config is the site's "
                    "configuration, each --pack one pack's (its name, buses, box); each "
                    "pack's source is its slaves' voltages less its current through its "
                    "cells' R0.")
    add_config_arguments(site_bus)
    site_bus.add_argument("--pack", dest="packs", action="append", type=Path, default=[],
                          required=True, metavar="FILE",
                          help="a pack's configuration (repeat for every pack of the site)")
    add_stats_argument(site_bus)
    site_bus.set_defaults(run=run_site_bus)
    from sim.scenario_cli import add_parser as add_run_parser

    add_run_parser(peers)


def run_hv_box(args: argparse.Namespace) -> int:
    from sim.peers_service import run_hv_box as run

    return run_role(args, "hv-box", describe=lambda s: "HV box with IVT-S sensor", service=run,
                    problem=key_problem)


def run_site_bus(args: argparse.Namespace) -> int:
    from bms.cli_common import EXIT_CONFIG
    from bms.errors import ConfigError
    from bms.settings import load_settings
    from sim.site_bus_service import run_site_bus as run

    packs: dict[str, Settings] = {}
    try:
        for path in args.packs:
            settings = load_settings(path)
            if settings.pack.name in packs:
                raise ConfigError(f"{path}: pack {settings.pack.name} is given twice")
            packs[settings.pack.name] = settings
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    refusals = [f"{name}: {refusal}" for name, pack in packs.items()
                if (refusal := key_problem(pack)) is not None]
    if refusals:
        print(f"configuration error: {'; '.join(refusals)}", file=sys.stderr)
        return EXIT_CONFIG

    def problem(site: Settings) -> str | None:
        missing = sorted(set(site.site.packs) - set(packs))
        if missing:
            return f"no --pack for {', '.join(missing)} of site.packs"
        return inverter_problem(site)

    return run_role(args, "site-bus",
                    describe=lambda s: f"site bus of {len(packs)} packs and a "
                                       f"{s.endpoints.inverter} inverter",
                    service=lambda s: run(s, packs, args.stats_file), problem=problem)


def run_charger(args: argparse.Namespace) -> int:
    from sim.peers_service import run_charger as run

    return run_role(args, "charger", describe=lambda s: "Elcon/TC charger", service=run)


def run_inverter(args: argparse.Namespace) -> int:
    from sim.peers_service import run_inverter as run

    return run_role(args, "inverter", describe=lambda s: f"{s.endpoints.inverter} inverter",
                    service=lambda s: run(s, args.stats_file), problem=inverter_problem)


def inverter_problem(settings: Settings) -> str | None:
    """The inverter needs a protocol, and one that fits the pack's voltage."""
    if settings.endpoints.inverter == "none":
        return "endpoints.inverter: none configured"
    from master.endpoints import inverter_problem as problem

    return problem(settings)


def run_vcu(args: argparse.Namespace) -> int:
    from sim.peers_service import run_vcu as run

    return run_role(args, "vcu", describe=lambda s: f"VCU requesting {s.sim.vcu.request}",
                    service=run)


def key_problem(settings: Settings) -> str | None:
    """The HV box refuses to start with a contactor key it cannot use."""
    from dbc.contactor_auth import ContactorKeyError, key_from_environment

    try:
        key_from_environment(settings.contactors.auth_key_env)
    except ContactorKeyError as exc:
        return f"contactors.auth_key_env: {exc}"
    return None
