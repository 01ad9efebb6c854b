"""`bms historian`: the packs' telemetry from a (fleet) broker into PostgreSQL or SQLite."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Subscribe to every pack's telemetry on a broker (<prefix>/+/state, cells, limits, events,
online; QoS 1, a persistent session) and write it into PostgreSQL (--postgres, tables
partitioned by day, retention) or, without a server, SQLite (--sqlite, the default
historian.sqlite). A resend of the packs' outboxes is stored once: state, cells, limits and
online by (pack, t), events by (pack, id). Cells and limits are downsampled. Ctrl-C writes
what waits and stops. docs/historian.md.

examples:
  bms historian --broker 127.0.0.1:1883 --username historian
  bms historian --broker fleet.example:8883 --tls-ca-file ca.crt --username historian \\
      --postgres 'postgresql://historian@db.example/bms'
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("historian", help="telemetry from a broker into PostgreSQL or "
                              "SQLite", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT")
    p.add_argument("--username", default="", help="empty: anonymous")
    p.add_argument("--password-env", default="BMS_HISTORIAN_PASSWORD", metavar="VAR",
                   help="the environment variable holding the password")
    p.add_argument("--tls-ca-file", default="", metavar="FILE", help="TLS to the broker")
    p.add_argument("--prefix", default="bms", help="topics <prefix>/<pack>/... (default bms)")
    p.add_argument("--client-id", default="bms-historian",
                   help="the persistent session's client id (one per historian)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--postgres", metavar="DSN",
                       help="a libpq connection string or URL (password: PGPASSWORD)")
    where.add_argument("--sqlite", type=Path, metavar="FILE",
                       help="an SQLite file (default historian.sqlite)")
    p.add_argument("--cells-every-s", type=float, default=60.0,
                   help="one cells row per pack this often (default 60; 0: every one)")
    p.add_argument("--limits-every-s", type=float, default=10.0,
                   help="one limits row per pack this often (default 10; 0: every one)")
    p.add_argument("--retention-days", type=float, default=90.0,
                   help="older rows are dropped (PostgreSQL: whole days; default 90)")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=run_historian)


def run_historian(args: argparse.Namespace) -> int:
    from historian.service import Historian, HistorianSettings, Store

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(message)s")
    host, _, port = args.broker.rpartition(":")
    if not host or not port.isdigit():
        print(f"bms historian: --broker {args.broker!r}: HOST:PORT", file=sys.stderr)
        return 2
    if min(args.cells_every_s, args.limits_every_s) < 0 or args.retention_days <= 0:
        print("bms historian: the periods must not be negative, the retention positive",
              file=sys.stderr)
        return 2
    store: Store
    if args.postgres:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            print(f"bms historian: {exc}: pip install -e '.[historian]'", file=sys.stderr)
            return 1
        from historian.postgres import PostgresStore
        store = PostgresStore(args.postgres)
    else:
        from historian.sqlite import SqliteStore
        store = SqliteStore(args.sqlite or Path("historian.sqlite"))
    settings = HistorianSettings(
        host=host, port=int(port), username=args.username, password_env=args.password_env,
        tls_ca_file=args.tls_ca_file, prefix=args.prefix, client_id=args.client_id,
        cells_every_s=args.cells_every_s, limits_every_s=args.limits_every_s,
        retention_days=args.retention_days)
    historian = Historian(settings, store)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await historian.run(stop)

    asyncio.run(main())
    s = historian.stats
    print(f"historian: {s.received} messages, {s.written} rows written, {s.duplicates} "
          f"resends ignored, {s.bad} not telemetry, {s.pending} unwritten")
    return 0 if s.pending == 0 else 1
