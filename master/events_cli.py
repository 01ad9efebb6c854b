"""`bms events`: the master's event history from its SQLite store."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from bms.cli_common import EXIT_CONFIG

RELATIVE = re.compile(r"^(?P<amount>\d+(\.\d+)?)(?P<unit>[smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SEVERITIES = ("info", "warning", "fatal")
KINDS = ("diagnosis", "state", "contactor", "notice", "estimation")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "events", help="list the master's event history (its SQLite store)",
        description="List the events the master stored: every diagnosis change with a freeze "
                    "frame of the pack, state changes, contactor commands and notices, oldest "
                    "first. The store is master.store_path of the configuration (--db to "
                    "name it); it can be read while the master runs.")
    parser.add_argument("--db", type=Path, metavar="FILE",
                        help="the store (default: master.store_path of --config)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="pack configuration")
    parser.add_argument("--since", metavar="TIME",
                        help="from this time: ISO 8601 (2026-11-25T08:00) or an age (30m, 2h, 1d)")
    parser.add_argument("--until", metavar="TIME", help="up to this time (same forms)")
    parser.add_argument("--severity", action="append", choices=SEVERITIES, default=[],
                        help="only diagnosis events of this severity (repeatable)")
    parser.add_argument("--module", type=int, metavar="M", help="only events of module M")
    parser.add_argument("--kind", action="append", choices=KINDS, default=[],
                        help="only events of this kind (repeatable)")
    parser.add_argument("--last", type=int, metavar="N", help="only the last N events")
    parser.add_argument("--format", choices=("table", "jsonl"), default="table",
                        help="table (default) or one JSON object per line, freeze frame included")
    parser.set_defaults(run=run)


def parse_time(text: str, now_s: float) -> float:
    """Unix time of an ISO 8601 time (local if no zone) or of an age before ``now_s``."""
    match = RELATIVE.match(text.strip())
    if match:
        return now_s - float(match["amount"]) * UNIT_S[match["unit"]]
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r}: not a time (ISO 8601 like 2026-11-25T08:00, or an age "
                         f"like 30m, 2h, 1d)") from None
    return moment.timestamp()


def run(args: argparse.Namespace) -> int:
    from master.store import Store, StoreError

    path = args.db
    if path is None:
        from bms.errors import ConfigError
        from bms.settings import load_settings

        try:
            path = Path(load_settings(args.config).master.store_path)
        except ConfigError as exc:
            print(f"configuration error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    now = time.time()
    try:
        since = parse_time(args.since, now) if args.since else None
        until = parse_time(args.until, now) if args.until else None
    except ValueError as exc:
        print(f"bms events: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        store = Store.open(path, read_only=True)
        events = store.events(since, until, args.severity, args.module, args.kind, args.last)
        pruned = store.events_pruned()
    except StoreError as exc:
        print(f"bms events: {exc}", file=sys.stderr)
        return 1
    for event in events:
        if args.format == "jsonl":
            print(json.dumps({"id": event.id, "time": _iso(event.wall_time),
                              "kind": event.kind, "entry": event.entry, "change": event.change,
                              "severity": event.severity, "module": event.module,
                              "element": event.element, "text": event.text,
                              "freeze": event.freeze}))
        else:
            print(f"{event.id:>7}  {_iso(event.wall_time)}  {event.kind:<10}  "
                  f"{event.severity or '':<7}  {event.text}")
    if args.format == "table":
        print(f"{len(events)} events from {path}", file=sys.stderr)
    if pruned:
        print(f"({pruned} older events were deleted to keep the store within "
              f"master.store_max_events)", file=sys.stderr)
    return 0


def _iso(wall_time: float) -> str:
    return dt.datetime.fromtimestamp(wall_time).isoformat(timespec="milliseconds")
