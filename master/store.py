"""The master's SQLite store: every event with a freeze frame of the pack, the state that
survives a restart (estimator, counters), and the MQTT outbox (messages that must reach the
broker: written in the same transaction as their event, deleted once acknowledged).

WAL journal, ``synchronous=FULL``: a transaction that returned from commit is on disk, so a
power cut or a ``kill -9`` loses nothing committed and corrupts nothing (SQLite's own
guarantee; tests/master/test_store.py kills writers at random moments and checks). The
event history is bounded (``max_events``: the oldest go, counted). All methods are blocking:
the master calls them from its writer thread, tools from anywhere.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wall_time REAL NOT NULL,       -- Unix time when the master saw it
    monotonic_s REAL NOT NULL,     -- the master's clock (the core's now)
    kind TEXT NOT NULL,            -- diagnosis, state, contactor, notice
    entry TEXT,                    -- diagnosis entry, e.g. cell_overvoltage_msl
    change TEXT,                   -- set, cleared, reset
    severity TEXT,                 -- info, warning, fatal
    module INTEGER,
    element INTEGER,
    text TEXT NOT NULL,
    freeze TEXT                    -- JSON: the pack at that moment
);
CREATE INDEX IF NOT EXISTS events_time ON events (wall_time);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    wall_time REAL NOT NULL,
    value TEXT NOT NULL            -- JSON
);
CREATE TABLE IF NOT EXISTS outbox (  -- MQTT messages not yet acknowledged by the broker
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_topic ON outbox (topic, id);
"""


class StoreError(Exception):
    pass


@dataclass(frozen=True)
class StoredEvent:
    wall_time: float
    monotonic_s: float
    kind: str
    text: str
    entry: str | None = None
    change: str | None = None
    severity: str | None = None
    module: int | None = None
    element: int | None = None
    freeze: dict[str, Any] | None = None
    id: int | None = None  # set once stored


class Store:
    def __init__(self, connection: sqlite3.Connection, path: Path, max_events: int = 0) -> None:
        self.connection = connection
        self.path = path
        # the events kept: beyond this many the oldest are deleted (and counted in meta's
        # events_pruned) in the transaction that adds new ones; 0: every event is kept
        self.max_events = max_events

    @classmethod
    def open(cls, path: Path, read_only: bool = False, max_events: int = 0) -> Store:
        try:
            if read_only:
                if not path.exists():
                    raise StoreError(f"{path}: no such store")
                connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # handed to the writer thread after the start-up reads: one user at a time
                connection = sqlite3.connect(path, timeout=5.0, isolation_level=None,
                                             check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.executescript(SCHEMA)
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                   (str(SCHEMA_VERSION),))
            version = connection.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: {exc}") from None
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise StoreError(f"{path}: schema version {version and version[0]}, this program "
                             f"reads {SCHEMA_VERSION}")
        return cls(connection, path, max_events)

    def close(self) -> None:
        self.connection.close()

    # --- writing (the master's writer thread) ---------------------------------------------

    def append(self, events: Iterable[StoredEvent],
               outbox: Callable[[StoredEvent], tuple[str, bytes]] | None = None) -> list[int]:
        """Store events in one transaction; returns their ids once committed. With
        ``outbox``, each event's message (topic, payload) goes into the outbox with it."""
        ids = []
        with self._transaction():
            for e in events:
                cursor = self.connection.execute(
                    "INSERT INTO events (wall_time, monotonic_s, kind, entry, change, severity,"
                    " module, element, text, freeze) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (e.wall_time, e.monotonic_s, e.kind, e.entry, e.change, e.severity,
                     e.module, e.element, e.text,
                     json.dumps(e.freeze, sort_keys=True) if e.freeze is not None else None))
                ids.append(int(cursor.lastrowid or 0))
                if outbox is not None:
                    self._enqueue(*outbox(replace(e, id=ids[-1])))
            if ids and self.max_events > 0:
                self._prune(ids[-1] - self.max_events)
        return ids

    def _prune(self, up_to_id: int) -> None:
        """Delete the events up to this id and count them (ids only grow: what is left is
        at most ``max_events`` events, the latest)."""
        pruned = self.connection.execute("DELETE FROM events WHERE id <= ?",
                                         (up_to_id,)).rowcount
        if pruned > 0:
            self.connection.execute(
                "INSERT INTO meta VALUES ('events_pruned', ?) ON CONFLICT (key) DO UPDATE SET "
                "value = CAST(value AS INTEGER) + excluded.value", (pruned,))

    def enqueue(self, messages: Iterable[tuple[str, bytes]], keep_per_topic: int = 0) -> None:
        """Messages for the broker, in one transaction. ``keep_per_topic`` > 0 bounds how
        many undelivered messages of each of these topics are kept (the oldest go)."""
        with self._transaction():
            topics = set()
            for topic, payload in messages:
                self._enqueue(topic, payload)
                topics.add(topic)
            for topic in topics if keep_per_topic > 0 else ():
                self.connection.execute(
                    "DELETE FROM outbox WHERE topic = ? AND id <= (SELECT id FROM outbox WHERE "
                    "topic = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", (topic, topic,
                                                                    keep_per_topic))

    def _enqueue(self, topic: str, payload: bytes) -> None:
        self.connection.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)",
                                (topic, payload))

    def delivered(self, up_to_id: int) -> None:
        """The broker acknowledged every outbox message up to this id."""
        with self._transaction():
            self.connection.execute("DELETE FROM outbox WHERE id <= ?", (up_to_id,))

    def save_state(self, values: dict[str, Any], wall_time: float | None = None) -> None:
        """Replace state entries (key -> JSON-able value) in one transaction."""
        stamp = time.time() if wall_time is None else wall_time
        with self._transaction():
            for key, value in values.items():
                self.connection.execute(
                    "INSERT INTO state VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "wall_time = excluded.wall_time, value = excluded.value",
                    (key, stamp, json.dumps(value, sort_keys=True)))

    def _transaction(self) -> _Transaction:
        return _Transaction(self.connection)

    # --- reading --------------------------------------------------------------------------

    def load_state(self, key: str) -> tuple[float, Any] | None:
        row = self.connection.execute("SELECT wall_time, value FROM state WHERE key = ?",
                                      (key,)).fetchone()
        return (float(row[0]), json.loads(row[1])) if row else None

    def events(self, since: float | None = None, until: float | None = None,
               severities: Iterable[str] = (), module: int | None = None,
               kinds: Iterable[str] = (), limit: int | None = None) -> list[StoredEvent]:
        where: list[str] = []
        args: list[float | str] = []
        if since is not None:
            where.append("wall_time >= ?")
            args.append(since)
        if until is not None:
            where.append("wall_time <= ?")
            args.append(until)
        for column, values in (("severity", list(severities)), ("kind", list(kinds))):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args += values
        if module is not None:
            where.append("module = ?")
            args.append(module)
        query = ("SELECT id, wall_time, monotonic_s, kind, text, entry, change, severity, module,"
                 " element, freeze FROM events")
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY id"
        if limit is not None:  # the latest ones, still in order
            query = f"SELECT * FROM ({query} DESC LIMIT {int(limit)}) ORDER BY id"
        try:
            return [StoredEvent(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                                json.loads(r[10]) if r[10] else None, r[0])
                    for r in self.connection.execute(query, args)]
        except (sqlite3.Error, ValueError) as exc:  # a damaged file: say so, no traceback
            raise StoreError(f"{self.path}: cannot read the events ({exc}); the file is "
                             f"damaged: `sqlite3 {self.path} .recover` saves what it can"
                             ) from None

    def events_pruned(self) -> int:
        """How many of the oldest events were deleted to keep the store within bounds."""
        try:
            row = self.connection.execute(
                "SELECT value FROM meta WHERE key = 'events_pruned'").fetchone()
            return int(row[0]) if row else 0
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"{self.path}: cannot read the store ({exc})") from None

    def outbox(self, after_id: int = 0, limit: int = 100) -> list[tuple[int, str, bytes]]:
        """Undelivered messages in order: (id, topic, payload)."""
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in self.connection.execute(
            "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit))]

    def outbox_size(self) -> int:
        return int(self.connection.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def integrity(self) -> str:
        return str(self.connection.execute("PRAGMA integrity_check").fetchone()[0])


class _Transaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.connection.execute("COMMIT" if kind is None else "ROLLBACK")
