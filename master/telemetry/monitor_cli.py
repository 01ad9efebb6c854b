"""`bms monitor --broker URL`: a pack (or every pack) live from its MQTT telemetry."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_PASSWORD_ENV = "BMS_MONITOR_PASSWORD"
SCHEMES = {"mqtt": 1883, "mqtts": 8883}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "monitor", help="show packs live from their MQTT telemetry, from any machine",
        description="Subscribe to <prefix>/<pack>/{state,cells,limits,events,online} and show "
                    "each pack live: state, contactors, pack values, SOC/SOE/SOH, cell and "
                    "temperature extremes, limits, faults and the latest events (each once, "
                    "by id). Read-only: the 'monitor' user of deploy/mosquitto suffices.")
    parser.add_argument("--broker", required=True, metavar="URL",
                        help="mqtt://[user@]host[:port] or mqtts://... (TLS)")
    parser.add_argument("--pack", default="+", metavar="NAME",
                        help="pack.name of the pack to show (default: every pack)")
    parser.add_argument("--prefix", default="bms", help="the master's mqtt.prefix")
    parser.add_argument("--password-env", default=DEFAULT_PASSWORD_ENV, metavar="VAR",
                        help=f"environment variable with the password (default "
                             f"{DEFAULT_PASSWORD_ENV})")
    parser.add_argument("--ca-file", metavar="FILE", help="CA certificate for mqtts://")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop after S seconds and print a one-line summary per pack")
    parser.add_argument("--plain", action="store_true",
                        help="a text line per pack every second instead of the live view")
    parser.set_defaults(run=run)


def parse_broker(url: str) -> tuple[str, int, str | None, bool]:
    """(host, port, user, tls) of a broker URL; ValueError with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"{url}: the scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"{url}: no host")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValueError(f"{url}: bad port") from None
    return parts.hostname, port, unquote(parts.username) if parts.username else None, \
        parts.scheme == "mqtts"


def run(args: argparse.Namespace) -> int:
    try:
        host, port, user, tls = parse_broker(args.broker)
    except ValueError as exc:
        print(f"bms monitor: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_monitor(args, host, port, user, tls))


async def _monitor(args: argparse.Namespace, host: str, port: int, user: str | None,
                   tls: bool) -> int:
    import ssl

    import aiomqtt
    from rich.console import Console
    from rich.live import Live

    from master.telemetry.monitor import MonitorModel

    model = MonitorModel(args.prefix)
    console = Console()
    tls_params = aiomqtt.TLSParameters(ca_certs=args.ca_file, cert_reqs=ssl.CERT_REQUIRED) \
        if tls else None
    password = os.environ.get(args.password_env) if user else None
    topic = f"{args.prefix}/{args.pack}/#"
    try:
        async with aiomqtt.Client(host, port, username=user, password=password,
                                  tls_params=tls_params) as client:
            await client.subscribe(topic, qos=1)

            async def receive() -> None:
                async for message in client.messages:
                    if isinstance(message.payload, bytes):
                        model.on_message(str(message.topic), message.payload)

            receiver = asyncio.create_task(receive())
            try:
                if args.plain or args.duration is not None or not console.is_terminal:
                    await _plain(model, args.duration, print_lines=args.duration is None)
                else:
                    with Live(model.render(), console=console, refresh_per_second=4) as live:
                        while True:
                            await asyncio.sleep(0.25)
                            live.update(model.render())
            finally:
                receiver.cancel()
    except aiomqtt.MqttError as exc:
        print(f"bms monitor: {host}:{port}: {exc}", file=sys.stderr)
        return 1
    print(model.text() or f"no telemetry under {topic}")
    return 0 if model.packs else 1


async def _plain(model: Any, duration_s: float | None, print_lines: bool) -> None:
    loop = asyncio.get_running_loop()
    end = None if duration_s is None else loop.time() + duration_s
    while end is None or loop.time() < end:
        await asyncio.sleep(1.0 if end is None else min(1.0, max(0.0, end - loop.time())))
        if print_lines and model.packs:
            print(model.text(), flush=True)
