"""The historian in PostgreSQL (psycopg 3): a table per topic, partitioned by day on t
(timestamptz), each partition made before the first row of its day arrives and dropped
whole once older than the retention; rows arrive by COPY into a temporary table and go on
with INSERT ... ON CONFLICT DO NOTHING, so that a resend (same key) is stored once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from historian.rows import Row
from historian.schema import COLUMNS, KEYS, names

UTC = dt.UTC


def _day(t: float) -> dt.date:
    return dt.datetime.fromtimestamp(t, UTC).date()


class PostgresStore:
    kind = "postgresql"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._db: Any = None
        self._partitions: set[tuple[str, dt.date]] = set()

    def connection(self) -> Any:
        import psycopg

        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.dsn, connect_timeout=5)
            self._partitions.clear()
            with self._db.transaction():
                for table, columns in COLUMNS.items():
                    types = ", ".join(f"{n} {t}" for n, t in columns)
                    self._db.execute(
                        f"CREATE TABLE IF NOT EXISTS {table} (pack text NOT NULL, "
                        f"t timestamptz NOT NULL, {types}, "
                        f"PRIMARY KEY ({', '.join(KEYS[table])})) PARTITION BY RANGE (t)")
        return self._db

    def _partition(self, table: str, day: dt.date) -> None:
        if (table, day) in self._partitions:
            return
        name = f"{table}_p{day:%Y%m%d}"
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM "
            f"('{day.isoformat()}T00:00:00Z') TO ('{(day + dt.timedelta(days=1)).isoformat()}"
            "T00:00:00Z')")
        self._partitions.add((table, day))

    def write(self, rows: Sequence[Row]) -> int:
        """Rows in one transaction; the number new (a resend is not). Raises on a database
        that is away: the caller keeps the rows and tries again."""
        db = self.connection()
        added = 0
        try:
            with db.transaction():
                for table in COLUMNS:
                    mine = [r for r in rows if r.table == table]
                    if not mine:
                        continue
                    for day in {_day(r.t) for r in mine}:
                        self._partition(table, day)
                    cols = ", ".join(names(table))
                    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming_{table} "
                               f"(LIKE {table}) ON COMMIT DELETE ROWS")
                    with db.cursor().copy(f"COPY incoming_{table} ({cols}) FROM STDIN") as copy:
                        for r in mine:
                            copy.write_row((r.pack, dt.datetime.fromtimestamp(r.t, UTC),
                                            *(r.values.get(n) for n, _ in COLUMNS[table])))
                    cursor = db.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM "
                                        f"incoming_{table} ON CONFLICT DO NOTHING")
                    added += max(cursor.rowcount, 0)
        except Exception:
            self.close()  # the next write connects again
            raise
        return added

    def drop_older_than(self, days: float, now_s: float) -> int:
        """Whole partitions whose day ended before the retention: the number dropped."""
        db = self.connection()
        oldest = _day(now_s - days * 86_400.0)
        dropped = 0
        with db.transaction():
            for table in COLUMNS:
                found = db.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", (table,))
                for (name,) in found.fetchall():
                    day = dt.datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").date()
                    if day < oldest:
                        db.execute(f"DROP TABLE {name}")
                        self._partitions.discard((table, day))
                        dropped += 1
        return dropped

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None
