"""The historian in one SQLite file, where no database server is configured: the same
tables and keys as in PostgreSQL, t as Unix seconds, a resend ignored by its key."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from historian.rows import Row
from historian.schema import COLUMNS, KEYS, names

SECONDS_PER_DAY = 86_400.0


class SqliteStore:
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            for table, columns in COLUMNS.items():
                types = ", ".join(f"{n} {'REAL' if 'double' in t else t}" for n, t in columns)
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (pack TEXT NOT NULL, t REAL NOT NULL, "
                    f"{types}, PRIMARY KEY ({', '.join(KEYS[table])}))")
            self._db.commit()
        return self._db

    def write(self, rows: Sequence[Row]) -> int:
        """Rows in one transaction; the number new (a resend is not)."""
        db = self.connection()
        before = db.total_changes
        with db:
            for table in COLUMNS:
                mine = [(r.pack, r.t, *(r.values.get(n) for n, _ in COLUMNS[table]))
                        for r in rows if r.table == table]
                if mine:
                    cols = names(table)
                    db.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES "
                                   f"({', '.join('?' * len(cols))})", mine)
        return db.total_changes - before

    def drop_older_than(self, days: float, now_s: float) -> int:
        db = self.connection()
        before = db.total_changes
        with db:
            for table in COLUMNS:
                db.execute(f"DELETE FROM {table} WHERE t < ?", (now_s - days * SECONDS_PER_DAY,))
        return db.total_changes - before

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
