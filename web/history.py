"""The dashboard's history: the historian's SQLite tables (historian/sqlite.py, the same rows
and keys, so an outbox resend is stored once: state by (pack, t), events by id), bounded:

- cells and limits kept every ``CELLS_EVERY_S`` at most (the state every message);
- older than ``full_s``: one row per pack and ``coarse_s`` (the first of each interval);
- older than the retention: deleted.

Charts read ``series``: at most ``max_points`` buckets over the time asked for, averages
(minima and maxima for the extremes)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from historian.rows import Row
from historian.sqlite import SECONDS_PER_DAY, SqliteStore

CELLS_EVERY_S = 10.0  # what the dashboard's historian keeps of cells and limits
LIVE_TABLES = ("state", "cells", "limits")
SERIES = {
    "state": {"soc_pct": "AVG", "soc_min_pct": "MIN", "soc_max_pct": "MAX",
              "voltage_v": "AVG", "current_a": "AVG", "power_kw": "AVG"},
    "cells": {"cell_min_mv": "MIN", "cell_max_mv": "MAX", "cell_spread_mv": "MAX",
              "temperature_min_degc": "MIN", "temperature_max_degc": "MAX"},
    "limits": {"charge_a": "AVG", "discharge_a": "AVG"},
}
MAX_POINTS = 1500
FREEZES_TABLE = ("CREATE TABLE IF NOT EXISTS freezes (pack TEXT NOT NULL, id INTEGER NOT NULL, "
                 "freeze TEXT NOT NULL, PRIMARY KEY (pack, id))")


class History:
    """A store for `historian.service.Historian` (which batches, retries and downsamples
    cells and limits) that also answers the charts; its retention call compacts. The
    historian's thread alone uses the store's connection (write, compact, close); the
    readers (the charts, the events) have one of their own, behind a lock."""

    kind = "sqlite"

    def __init__(self, path: Path, full_s: float = SECONDS_PER_DAY, coarse_s: float = 60.0
                 ) -> None:
        self.path = path
        self.store = SqliteStore(path)
        self.full_s, self.coarse_s = full_s, coarse_s
        with self.store.connection() as db:  # the tables, before any reader or thread
            db.execute(FREEZES_TABLE)
        self._reader: sqlite3.Connection | None = None  # its own: one connection, one user
        self._lock = threading.Lock()
        self._freezes: list[tuple[str, int, str]] = []  # to write with the next rows

    def note_freeze(self, pack: str, event_id: int, freeze: dict[str, Any]) -> None:
        """A diagnosis event's freeze frame, kept beside the historian's events table (which
        has no column for it); written with the next batch."""
        with self._lock:
            self._freezes.append((pack, event_id, json.dumps(freeze)))

    def write(self, rows: Sequence[Row]) -> int:
        """The rows, after the freeze frames noted so far (an event's is noted before its
        row waits: a reader never sees the event without it)."""
        with self._lock:
            freezes, self._freezes = self._freezes, []
        if freezes:
            try:
                with self.store.connection() as db:
                    db.executemany("INSERT OR IGNORE INTO freezes VALUES (?, ?, ?)", freezes)
            except sqlite3.Error:
                with self._lock:  # tried again with the next batch
                    self._freezes[:0] = freezes
                raise
        return self.store.write(rows)

    def drop_older_than(self, days: float, now_s: float) -> int:
        """Drop what is older than ``days``, downsample what is older than ``full_s``; the
        number of rows removed."""
        removed = self.store.drop_older_than(days, now_s)
        db = self.store.connection()
        before = db.total_changes
        with db:
            for table in LIVE_TABLES:
                db.execute(
                    f"DELETE FROM {table} WHERE t < :old AND rowid NOT IN (SELECT MIN(rowid) "
                    f"FROM {table} WHERE t < :old GROUP BY pack, CAST(t / :coarse AS INTEGER))",
                    {"old": now_s - self.full_s, "coarse": self.coarse_s})
        return removed + db.total_changes - before

    def series(self, pack: str, since_s: float, until_s: float,
               max_points: int = MAX_POINTS) -> dict[str, list[Any]]:
        """Per table, ``t`` and each column in buckets of equal length over the span."""
        bucket_s = max((until_s - since_s) / max(max_points, 1), 1e-3)
        out: dict[str, list[Any]] = {}
        with self._lock:
            db = self._read()
            for table, columns in SERIES.items():
                selected = ", ".join(f"{how}({name})" for name, how in columns.items())
                rows = db.execute(
                    f"SELECT AVG(t), {selected} FROM {table} WHERE pack = ? AND t >= ? "
                    f"AND t <= ? GROUP BY CAST((t - ?) / ? AS INTEGER) ORDER BY 1",
                    (pack, since_s, until_s, since_s, bucket_s)).fetchall()
                out[f"{table}.t"] = [r[0] for r in rows]
                for i, name in enumerate(columns, start=1):
                    out[f"{table}.{name}"] = [r[i] for r in rows]
        return out

    def events(self, pack: str, limit: int = 100,
               before_id: int | None = None) -> list[dict[str, Any]]:
        """The newest events first (older pages with ``before_id``)."""
        keys = ("id", "t", "kind", "entry", "change", "severity", "module", "element", "text")
        query = (f"SELECT {', '.join('e.' + k for k in keys)}, f.freeze FROM events e "
                 "LEFT JOIN freezes f ON f.pack = e.pack AND f.id = e.id WHERE e.pack = ?")
        arguments: list[Any] = [pack]
        if before_id is not None:
            query += " AND e.id < ?"
            arguments.append(before_id)
        query += " ORDER BY e.id DESC LIMIT ?"
        arguments.append(limit)
        with self._lock:
            rows = self._read().execute(query, arguments).fetchall()
        return [{**dict(zip(keys, r[:-1], strict=True)),
                 "freeze": None if r[-1] is None else json.loads(r[-1])} for r in rows]

    def packs(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._read().execute(
                "SELECT DISTINCT pack FROM events ORDER BY pack")]

    def counts(self) -> dict[str, int]:
        with self._lock:
            db = self._read()
            return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                    for t in ("state", "cells", "limits", "events", "online")}

    def close(self) -> None:
        self.store.close()
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _read(self) -> sqlite3.Connection:
        """A connection of its own for the readers (WAL: they never wait on the writer)."""
        if self._reader is None:
            self._reader = sqlite3.connect(self.path, check_same_thread=False)
        return self._reader
