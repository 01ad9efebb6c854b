"""`bms web`: the dashboard for one pack or every pack on a broker (docs/web.md)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bms.cli_common import add_config_arguments, config_ok, load_or_explain

DESCRIPTION = """\
Serve the packs' dashboard: overview, cells as heat maps, events with their freeze frames,
history charts, and, for a logged-in operator, the MQTT commands. It reads every pack under
the [mqtt] prefix on the [mqtt] broker as the read-only user of [web] (web.mqtt_username,
its password in web.mqtt_password_env), keeps history in web.history_path (SQLite) and
sends commands as web.operator_username. Serves on 127.0.0.1:8080 by default; another
address needs TLS (web.tls_cert_file, web.tls_key_file) or web.plain_http_off_loopback.

examples:
  bms web --config pack.toml
  bms web --config pack.toml --set web.users_file=web-users user admin --role operator
  bms web --set mqtt.port=1884 --set web.port=0      (any free port; the URL is printed)
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("web", help="the dashboard in a browser (and its alarms)",
                              description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(p)
    p.add_argument("--url-file", type=Path, metavar="FILE",
                   help="write the dashboard's URL here once it serves")
    p.add_argument("--unix", type=Path, metavar="PATH",
                   help="also serve on this Unix socket (reachable from outside the network "
                        "namespace the pack runs in: `bms web forward`)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    user = actions.add_parser("user", help="add or replace a login in web.users_file",
                              description="Add a login (or replace its password and role) in "
                                          "web.users_file: scrypt hashes, mode 0600. The "
                                          "password is asked twice, or read from "
                                          "--password-env.")
    user.add_argument("name")
    user.add_argument("--role", choices=["operator", "viewer"], required=True,
                      help="operator: may send commands; viewer: may look")
    user.add_argument("--password-env", metavar="VAR",
                      help="take the password from this environment variable")
    forward = actions.add_parser(
        "forward", help="relay a loopback TCP port to a dashboard's Unix socket",
        description="Relay 127.0.0.1:PORT to the Unix socket a dashboard serves on (bms web "
                    "--unix): how a browser reaches the dashboard of a virtual pack that "
                    "runs in a network namespace of its own. `./run pack` starts it.")
    forward.add_argument("--socket", type=Path, required=True, metavar="PATH")
    forward.add_argument("--port", type=int, default=8080,
                         help="default 8080; taken: any free port (the URL is printed)")
    forward.add_argument("--url-file", dest="forward_url_file", type=Path, metavar="FILE",
                         help="write the URL here once it listens")
    p.set_defaults(run=run)


def _forward(args: argparse.Namespace) -> int:
    from sim.broker import free_port
    from web.forward import relay

    def listening(port: int) -> None:
        url = f"http://127.0.0.1:{port}/"
        print(f"dashboard relay: {url} -> {args.socket}", flush=True)
        if args.forward_url_file:
            args.forward_url_file.write_text(url + "\n")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await relay(free_port(args.port), args.socket, stop, listening)

    asyncio.run(main())
    return 0


def _add_user(args: argparse.Namespace, users_file: str) -> int:
    from web.auth import UsersFileError, add_user

    if not users_file:
        print("bms web user: set web.users_file (--set web.users_file=FILE)", file=sys.stderr)
        return 2
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"bms web user: {args.password_env} is not set", file=sys.stderr)
            return 2
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("bms web user: the passwords differ", file=sys.stderr)
            return 2
    try:
        add_user(Path(users_file), args.name, args.role, password)
    except UsersFileError as exc:
        print(f"bms web user: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name} ({args.role}) written to {users_file}; a running dashboard reads it "
          f"at its next start")
    return 0


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args)
    if settings is None:
        return 2
    if args.action == "user":
        return _add_user(args, settings.web.users_file)
    if args.action == "forward":
        return _forward(args)
    if args.check_config:
        return config_ok(f"dashboard on {settings.web.listen}:{settings.web.port}")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(message)s")
    from bms.errors import ConfigError
    from web.auth import UsersFileError
    from web.service import Served, WebService

    try:
        service = WebService(settings)
    except (OSError, UsersFileError, ConfigError) as exc:
        print(f"bms web: {exc}", file=sys.stderr)
        return 2

    def served(where: Served) -> None:
        print(f"dashboard: {where.url}", flush=True)
        if args.url_file:
            args.url_file.write_text(where.url + "\n")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await service.run(stop, served, args.unix)

    try:
        asyncio.run(main())
    except OSError as exc:  # the address taken or not ours
        print(f"bms web: cannot serve on {settings.web.listen}:{settings.web.port}: {exc}",
              file=sys.stderr)
        return 1
    return 0
