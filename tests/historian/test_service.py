"""`bms historian` between a real Mosquitto (the project's configuration, a persistent
session) and a real PostgreSQL: a pack's telemetry written once each, through a broker
outage and a database outage (nothing lost, nothing doubled), and the command itself."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from historian.postgres import PostgresStore
from historian.service import Historian, HistorianSettings
from historian.sqlite import SqliteStore
from testbed.brokers import PASSWORDS, ProjectBroker, project_broker
from testbed.postgres import PostgresServer, binaries, postgres_server
from testbed.waiting import wait_until
from tests.historian.telemetry import pack_messages

pytestmark = pytest.mark.multiprocess  # a broker and a database server on loopback
TIMEOUT_S = 30.0


def settings(broker: ProjectBroker, **changes: object) -> HistorianSettings:
    base: dict[str, object] = dict(
        host=broker.host, port=broker.port, username="historian",
        password_env="BMS_HISTORIAN_PASSWORD", cells_every_s=0.0, limits_every_s=0.0,
        flush_s=0.05, retry_min_s=0.05, retry_max_s=0.5,
        retention_days=3650.0)  # the messages are of 2025: kept
    base.update(changes)
    return HistorianSettings(**base)  # type: ignore[arg-type]


async def publish(broker: ProjectBroker, messages: list[tuple[str, bytes]]) -> None:
    """As a pack's outbox sends: QoS 1, each acknowledged before the next."""
    async with aiomqtt.Client(broker.host, broker.port, username="bms-master",
                              password=PASSWORDS["bms-master"]) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


@contextlib.asynccontextmanager
async def running(historian: Historian) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(historian.run(stop))
    try:
        await wait_until(historian.connected.is_set, TIMEOUT_S, "the historian subscribed")
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT_S)


def stored(pg: PostgresServer) -> dict[str, int]:
    import psycopg

    try:
        with psycopg.connect(pg.dsn) as db:
            return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("state", "cells", "limits", "events", "online")}
    except psycopg.Error:
        return {}


@pytest.mark.skipif(binaries() is None, reason="no PostgreSQL server binaries")
async def test_through_a_broker_and_a_database_outage_nothing_lost_nothing_doubled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_HISTORIAN_PASSWORD", PASSWORDS["historian"])
    messages = pack_messages("fleet-1", 30) + pack_messages("fleet-2", 30)
    first, second, third = messages[:60], messages[60:120], messages[120:]

    def expected(sent: list[tuple[str, bytes]]) -> dict[str, int]:
        return {t: len({(topic, payload) for topic, payload in sent if topic.endswith(t)})
                for t in ("state", "cells", "limits", "events", "online")}

    async def until_stored(sent: list[tuple[str, bytes]], what: str) -> None:
        try:
            await wait_until(lambda: stored(pg) == expected(sent), TIMEOUT_S, what)
        except AssertionError as exc:  # say what was there
            raise AssertionError(f"{exc}: {stored(pg)}, not {expected(sent)}; "
                                 f"{historian.stats}") from None

    if ProjectBroker(tmp_path / "probe").kind != "mosquitto":
        pytest.skip("needs Mosquitto's persistent sessions (the embedded broker has none)")
    with postgres_server() as pg:
        async with project_broker(tmp_path / "broker") as broker:
            historian = Historian(settings(broker), PostgresStore(pg.dsn))
            async with running(historian):
                await publish(broker, first)
                await until_stored(first, "the first third stored")
                # the broker away: the historian reconnects to the same session; the pack's
                # outbox sends again what it had not seen acknowledged (the last ten)
                await broker.stop()
                await wait_until(lambda: not historian.connected.is_set(), TIMEOUT_S,
                                 "the historian saw the broker go")
                await broker.start()
                await publish(broker, first[-10:] + second)
                await until_stored(first + second, "the second third stored, the resent once")
                # the database away: rows wait and go in once it is back
                pg.stop()
                await publish(broker, third)
                await wait_until(lambda: historian.stats.store_errors > 0, TIMEOUT_S,
                                 "the historian found the database away")
                assert historian.stats.pending > 0
                pg.start()
                await until_stored(messages, "everything stored once")
            assert historian.stats.duplicates == 10
            assert historian.stats.pending == 0
            assert historian.stats.broker_connects >= 2


async def test_the_command_writes_sqlite_by_default_and_stops_on_a_signal(
        tmp_path: Path) -> None:
    async with project_broker(tmp_path / "broker") as broker:
        database = tmp_path / "historian.sqlite"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "historian", "--broker", f"{broker.host}:{broker.port}",
            "--username", "historian", "--sqlite", str(database), "--cells-every-s", "0",
            "--limits-every-s", "0", "--retention-days", "3650", stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={"BMS_HISTORIAN_PASSWORD": PASSWORDS["historian"], "PATH": "/usr/bin:/bin"})
        messages = pack_messages("cli-1", 5)
        store = SqliteStore(database)

        def rows() -> int:
            try:
                return sum(store.connection().execute(f"SELECT count(*) FROM {t}")
                           .fetchone()[0] for t in ("state", "cells", "limits", "events",
                                                    "online"))
            except Exception:
                store.close()
                return 0
        try:
            # its subscription is in place once a message published now reaches the file
            await wait_until(lambda: database.exists(), TIMEOUT_S, "the historian started")
            await publish(broker, messages)
            await wait_until(lambda: rows() == len(messages), TIMEOUT_S, "rows in the file")
        finally:
            process.send_signal(2)
            out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
            store.close()
    assert process.returncode == 0, out.decode()
    assert b"rows written" in out
