"""`bms site`: the site controller for a configuration, and `bms site virtual`: the whole
virtual site as real processes (docs/site.md)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bms.cli_common import add_config_arguments, add_stats_argument, run_role
from bms.settings import Settings

SITE_DESCRIPTION = """\
The site controller: N pack masters in parallel on one DC bus, presented to one inverter as
one battery (docs/site.md). It reads every pack of site.packs on the broker of [mqtt] (as
site.mqtt_username, its password in the variable site.mqtt_password_env), lets the packs
join the bus within site.join_voltage_v of it (the MQTT command `state`:
`drive` to join, `standby` to leave), steers the bus towards packs still waiting, and tells
the inverter of [endpoints] inverter on [bus.inverter] the limits no connected pack exceeds.
Its own telemetry: <site.prefix>/<site.name>/state. At the stop it asks every pack to leave.

  bms site --config deploy/packs/virtual-site.toml --set site.packs='["a", "b"]'
  bms site virtual                  # three packs, brokers, DC bus, inverter: all of it
"""

VIRTUAL_DESCRIPTION = """\
The virtual site as real processes, from one command: N packs of the pack profile
(deploy/packs/site-pack.toml: 4 x 16 LFP cells of 100 Ah) at different SOCs, each with its
own master, slaves, buses and Mosquitto broker, the brokers bridged over TLS to a site
broker; `bms sim site-bus`: the DC bus with every pack's HV box and a simulated inverter of
the site profile (deploy/packs/virtual-site.toml: BYD HVS, a storage profile that
discharges and charges); and `bms site` between them. By default two packs start within the
join window of each other (50 and 60 %% SOC: 209.0 and 209.2 V) and one outside it (40 %%:
208.2 V, 1.0 V below the bus they make): the site steers (discharge only) until the load
has brought the other two down to it, and it joins.

The live view shows the site (packs connected, limits, steering and why, bus voltage,
current) and each pack (state, role in the site, voltage, current, SOC, limits), every
second; Ctrl-C stops everything (the site first: it asks the packs to leave). With
--duration and --headless: a progress line every 5 s, a summary at the end, and exit 0 when
every pack was connected at the end, no child died and the site never told the inverter more
than the connected packs' limits allow (else 1). Needs mosquitto and openssl; run it inside
a private network namespace (./run site does).
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "site", help="the site controller: packs in parallel as one battery (and `bms site "
                     "virtual`: the whole virtual site)",
        description=SITE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    add_stats_argument(parser)
    parser.set_defaults(run=run)
    modes = parser.add_subparsers(dest="mode", metavar="MODE")
    virtual = modes.add_parser(
        "virtual", help="the whole virtual site: packs, brokers, DC bus, inverter, site",
        description=VIRTUAL_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_virtual_arguments(virtual)
    virtual.set_defaults(run=run_virtual)


def add_virtual_arguments(parser: argparse.ArgumentParser) -> None:
    from sim.site_configs import MAX_PACKS, PACK_PROFILE, SITE_PROFILE

    group = parser.add_argument_group("the site")
    group.add_argument("--packs", type=int, default=3, metavar="N",
                       help=f"how many packs (1 to {MAX_PACKS}; default 3)")
    group.add_argument("--soc", dest="socs", type=float, action="append", default=[],
                       metavar="PCT", help="a pack's initial SOC, in order (repeatable; the "
                                           "rest: 50, 60, 40, then on the plateau)")
    group.add_argument("--config", type=Path, default=SITE_PROFILE, metavar="FILE",
                       help="the site profile (default deploy/packs/virtual-site.toml)")
    group.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override one of the site's settings")
    group.add_argument("--pack-config", type=Path, default=PACK_PROFILE, metavar="FILE",
                       help="the packs' profile (default deploy/packs/site-pack.toml)")
    group.add_argument("--pack-set", dest="pack_overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override one setting of every pack")
    run = parser.add_argument_group("the run")
    run.add_argument("--duration", type=float, metavar="S",
                     help="stop after S seconds, then check the site was healthy (exit 0) "
                          "or not (exit 1)")
    run.add_argument("--headless", action="store_true",
                     help="no live view: a progress line every 5 s (automatic when stdout "
                          "is not a terminal)")
    run.add_argument("--run-dir", type=Path, metavar="DIR",
                     help="where configurations, logs and counters go (default: a new "
                          "temporary directory)")
    run.add_argument("--summary-json", type=Path, metavar="FILE",
                     help="also write the end-of-run summary here")
    run.add_argument("--keep-going", action="store_true",
                     help="when a child dies, report it and keep the rest running (the exit "
                          "code is still 1)")


def site_problem(settings: Settings) -> str | None:
    """What `bms site` refuses beyond the settings' own checks."""
    if not settings.site.packs:
        return "site.packs: empty; name the packs of the site (their pack.name)"
    from master.endpoints import inverter_problem

    return inverter_problem(settings)  # the site's protocol against the site's voltage


def run(args: argparse.Namespace) -> int:
    return run_role(args, "site",
                    describe=lambda s: f"site {s.site.name} of {len(s.site.packs)} packs "
                                       f"({', '.join(s.site.packs)}), "
                                       f"{s.endpoints.inverter} inverter",
                    service=lambda s: serve(s, args.stats_file), problem=site_problem)


async def serve(settings: Settings, stats_path: Path | None) -> None:
    """The site controller until cancelled; its counters and last report into
    ``stats_path`` when it stops."""
    import asyncio
    import dataclasses
    import logging

    from bms.service import write_json_atomically
    from sitectl.report import SiteReport
    from sitectl.service import SiteService

    log = logging.getLogger("sitectl")
    seen: set[tuple[float, str]] = set()

    def on_report(report: SiteReport) -> None:
        nonlocal seen
        for note in report.notes:
            if note not in seen:
                log.info("%s", note[1])
        seen = set(report.notes)

    service = SiteService(settings, on_report)
    log.info("site %s: packs %s on %s:%d", settings.site.name, ", ".join(settings.site.packs),
             settings.mqtt.host, settings.mqtt.port)
    try:
        await service.run(asyncio.Event())
    finally:
        if stats_path is not None:
            report = service.core.report
            write_json_atomically(stats_path, dataclasses.asdict(service.statistics) | {
                "connected": report.connected if report else 0,
                "roles": {s.name: s.role for s in report.packs} if report else {}})


def run_virtual(args: argparse.Namespace) -> int:
    import asyncio

    from bms.errors import ConfigError
    from sim.site_configs import pack_names, socs_pct
    from sim.site_run import SiteOptions, run_site

    if args.duration is not None and args.duration <= 0:
        print("--duration: must be positive", file=sys.stderr)
        return 2
    try:
        names = pack_names(args.packs)
        socs = socs_pct(args.packs, args.socs)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix=f"bms-site-{stamp}-"))
    options = SiteOptions(
        packs=names, socs_pct=socs, run_dir=run_dir.resolve(), duration_s=args.duration,
        headless=args.headless or not sys.stdout.isatty(), keep_going=args.keep_going,
        summary_path=args.summary_json, pack_profile=args.pack_config.resolve(),
        site_profile=args.config.resolve(), pack_overrides=tuple(args.pack_overrides),
        site_overrides=tuple(args.overrides))
    try:
        return asyncio.run(run_site(options))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
