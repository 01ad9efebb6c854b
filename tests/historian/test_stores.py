"""The historian's stores: a real PostgreSQL (Debian's server, started here on a free
loopback port) and SQLite. Every row once however often it comes, partitions by day and
their retention, and the Grafana dashboard's own SQL run against what was written."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from historian.postgres import PostgresStore
from historian.rows import Row, to_row
from historian.sqlite import SqliteStore
from testbed.postgres import PostgresServer, binaries, postgres_server
from tests.historian.telemetry import T0, pack_messages

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "fleet.json"

needs_postgres = pytest.mark.skipif(binaries() is None, reason="no PostgreSQL server "
                                    "binaries (apt-get install postgresql; .ci/run does)")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    if binaries() is None:
        pytest.skip("no PostgreSQL server binaries")
    with postgres_server() as server:
        yield server


def rows_of(*packs: str, seconds: int = 5) -> list[Row]:
    return [r for p in packs for topic, payload in pack_messages(p, seconds)
            if (r := to_row(topic, payload)) is not None]


def counts(store: PostgresStore) -> dict[str, int]:
    db = store.connection()
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("state", "cells", "limits", "events", "online")}


@needs_postgres
def test_postgres_keeps_every_row_once_however_often_it_comes(
        postgres: PostgresServer) -> None:
    store = PostgresStore(postgres.dsn)
    rows = rows_of("pg-a", "pg-b")
    assert store.write(rows) == len(rows)
    assert store.write(rows[:7] + rows) == 0  # resent, also within one batch
    assert counts(store) == {"state": 10, "cells": 10, "limits": 10, "events": 2, "online": 2}
    db = store.connection()
    t, soc = db.execute("SELECT t, soc_pct FROM state WHERE pack = 'pg-a' ORDER BY t "
                        "LIMIT 1").fetchone()
    assert t == dt.datetime.fromtimestamp(T0, dt.UTC)
    assert soc is None or 0 <= soc <= 100
    store.close()


@needs_postgres
def test_postgres_partitions_by_day_and_drops_whole_old_days(postgres: PostgresServer) -> None:
    store = PostgresStore(postgres.dsn)
    day_s = 86_400.0
    old = [Row("online", "pg-old", T0 - 40 * day_s + k, {"online": True}) for k in range(3)]
    new = [Row("online", "pg-old", T0 + k, {"online": True}) for k in range(3)]
    store.write(old + new)
    db = store.connection()
    parts = {name for (name,) in db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'online'")}
    old_day = dt.datetime.fromtimestamp(T0 - 40 * day_s, dt.UTC).strftime("%Y%m%d")
    assert f"online_p{old_day}" in parts
    assert store.drop_older_than(30.0, T0) >= 1
    left = db.execute("SELECT count(*) FROM online WHERE pack = 'pg-old'").fetchone()[0]
    assert left == 3
    store.close()


@needs_postgres
def test_the_grafana_dashboards_queries_run_on_the_historians_tables(
        postgres: PostgresServer) -> None:
    store = PostgresStore(postgres.dsn)
    store.write(rows_of("graf-a", "graf-b"))
    dashboard = json.loads(DASHBOARD.read_text())
    window = ("'2025-11-24T15:00:00Z'", "'2025-11-24T17:00:00Z'")
    db = store.connection()

    def grafana(sql: str) -> str:
        """What Grafana sends: its macros and the pack variable (all packs) expanded."""
        sql = re.sub(r"\$__timeFilter\((\w+)\)",
                     lambda m: f"{m[1]} BETWEEN {window[0]} AND {window[1]}", sql)
        return sql.replace("$pack", "'graf-a', 'graf-b'")

    packs = [p for (p,) in db.execute(dashboard["templating"]["list"][0]["query"])]
    assert {"graf-a", "graf-b"} <= set(packs)
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            found = db.execute(grafana(target["rawSql"])).fetchall()
            assert found, panel["title"]  # every panel shows something of these packs
    store.close()


def test_sqlite_keeps_every_row_once_and_drops_old_ones(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "historian.sqlite")
    rows = rows_of("sq-a", seconds=3)
    assert store.write(rows) == len(rows)
    assert store.write(rows) == 0
    store.write([Row("online", "sq-a", T0 - 100 * 86_400.0, {"online": False})])
    assert store.drop_older_than(90.0, T0) == 1
    db = store.connection()
    assert db.execute("SELECT count(*) FROM state").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    store.close()
