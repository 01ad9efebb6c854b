"""`bms historian` at fleet scale: 1,000 simulated packs at 1 Hz through a real Mosquitto
into a real PostgreSQL, measured from outside the historian.

Every simulated second each pack publishes its state (QoS 1, as the master's outbox sends
it), its cells and its limits (QoS 0, as the master's live messages go): 3,000 messages a
second, of which the historian keeps every state, one cells row a minute and one limits row
every 10 s per pack (its defaults). The historian is the real command (`bms historian
--postgres`) in a process of its own; a probe queries the database every 0.1 s for the
state rows that became visible and takes, for each, its lag from publish (its t, the
publisher's wall clock) to the query that first saw it. Figures: the rows per second
written, the lag's median and 99th percentile, the backlog (state messages published and
not yet visible) over the run, the historian's CPU in cores. Targets: the lag p99 at most
2 s and no growing backlog, the historian within one core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiomqtt

from master.telemetry.payloads import pack_bytes
from testbed.brokers import PASSWORDS, project_broker
from testbed.postgres import postgres_server
from testbed.waiting import wait_until

PACKS = 1000
TARGET_LAG_P99_S = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def messages(pack: int, t: float) -> list[tuple[str, bytes, int]]:
    name = f"pack-{pack:04d}"
    return [
        (f"bms/{name}/state", pack_bytes({
            "t": t, "state": "NORMAL", "contactors": {"main_plus": True, "main_minus": True,
                                                      "precharge": False},
            "voltage_v": 350.0 + pack % 7, "current_a": -20.0, "power_kw": -7.0,
            "soc_pct": 55.0, "soc_min_pct": 54.0, "soc_max_pct": 56.0, "soc_sigma_pct": 0.4,
            "soe_kwh": 30.0, "soh_pct": 98.0, "faults": [], "warnings": [],
            "fault_reason": 0, "modules_online": 8, "balancing": False}), 1),
        (f"bms/{name}/cells", pack_bytes({
            "t": t, "modules": 8, "cells_per_module": 12, "sensors_per_module": 4,
            "voltages_mv": [3650 + (k * 7 + pack) % 20 for k in range(96)],
            "temperatures_degc": [25.0 + k % 3 for k in range(32)],
            "balancing_masks": [0] * 8}), 0),
        (f"bms/{name}/limits", pack_bytes({
            "t": t, "charge_a": 50.0, "discharge_a": 150.0, "charge_kw": 17.5,
            "discharge_kw": 52.5, "charge_limiter": "MAXIMUM", "discharge_limiter": "MAXIMUM",
            "voltage_max_v": 403.2, "voltage_min_v": 288.0}), 0),
    ]


async def publish_fleet(host: str, port: int, seconds: float, published: list[int]) -> None:
    """Every second, every pack's three messages, spread over the second."""
    quiet = logging.getLogger("bench.historian.publisher")  # not a line per queued publish
    quiet.setLevel(logging.ERROR)
    async with aiomqtt.Client(host, port, username="bms-master",
                              password=PASSWORDS["bms-master"], logger=quiet,
                              max_inflight_messages=1000) as client:
        start = time.time()
        for second in range(int(seconds)):
            due = start + second
            await asyncio.sleep(max(0.0, due - time.time()))
            for chunk in range(0, PACKS, 100):
                now = time.time()
                await asyncio.gather(*(client.publish(topic, payload, qos=qos)
                                       for pack in range(chunk, chunk + 100)
                                       for topic, payload, qos in messages(pack, now)))
                published[0] += 100
                await asyncio.sleep(0)


async def probe(dsn: str, until: asyncio.Event, lags: list[float],
                visible: list[tuple[float, int]]) -> None:
    import psycopg

    last = 0.0
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
        while not until.is_set():
            cursor = await db.execute(
                "SELECT extract(epoch FROM t) FROM state WHERE t > to_timestamp(%s)", (last,))
            seen = time.time()
            times = [float(t) for (t,) in await cursor.fetchall()]
            lags += [seen - t for t in times]
            if times:
                last = max(times)
            count = await (await db.execute("SELECT count(*) FROM state")).fetchone()
            visible.append((seen, int(count[0]) if count else 0))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await until.wait()


async def subscribed(host: str, port: int, dsn: str, tries: int = 300) -> None:
    """Until a probe message published now reaches the database (tried every 0.2 s): the
    historian is subscribed and writing."""
    import psycopg

    async with aiomqtt.Client(host, port, username="bms-master",
                              password=PASSWORDS["bms-master"]) as client:
        for _ in range(tries):
            await client.publish("bms/probe/online", pack_bytes({"t": time.time(),
                                                                 "online": True}), qos=1)
            await asyncio.sleep(0.2)
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
                    found = await (await db.execute("SELECT count(*) FROM online")).fetchone()
            except psycopg.Error:
                continue  # its tables are not made yet
            if found and found[0]:
                return
    raise RuntimeError("the historian never wrote the probe message")


async def run(seconds: float) -> dict[str, Any]:
    seconds = max(seconds, 30.0)
    import tempfile

    with tempfile.TemporaryDirectory() as scratch, postgres_server() as pg:
        async with project_broker(Path(scratch) / "broker") as broker:
            env = {**os.environ, "BMS_HISTORIAN_PASSWORD": PASSWORDS["historian"]}
            historian = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bms", "historian", "--broker",
                f"{broker.host}:{broker.port}", "--username", "historian", "--postgres",
                pg.dsn, "--log-level", "warning", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            await subscribed(broker.host, broker.port, pg.dsn)
            published = [0]
            lags: list[float] = []
            visible: list[tuple[float, int]] = []
            until = asyncio.Event()
            watcher = asyncio.create_task(probe(pg.dsn, until, lags, visible))
            cpu_before, started = cpu_s(historian.pid), time.time()
            await publish_fleet(broker.host, broker.port, seconds, published)
            cpu_during = (cpu_s(historian.pid) - cpu_before) / (time.time() - started)
            wall_s = time.time() - started
            end_published = published[0]
            with contextlib.suppress(AssertionError):  # the tail drains (or is the backlog)
                await wait_until(lambda: visible[-1][1] >= end_published, 30.0, "drained")
            until.set()
            await watcher
            historian.send_signal(2)
            out, _ = await historian.communicate()
    # backlog: published but not visible, at each second of the run
    backlog = [(t - started, min(int(t - started) + 1, int(seconds)) * PACKS - n)
               for t, n in visible if t - started <= wall_s]
    quarter = [b for t, b in backlog if t < wall_s / 4] or [0]
    last = [b for t, b in backlog if t > 3 * wall_s / 4] or [0]
    rows_per_s = (visible[-1][1]) / wall_s * (1 + 1 / 60 + 1 / 10)  # state, cells, limits
    lag_p50 = statistics.median(lags)
    lag_p99 = statistics.quantiles(lags, n=100)[98]
    growing = max(last) > max(quarter) + PACKS  # more than a second's worth behind
    met = lag_p99 <= TARGET_LAG_P99_S and not growing and cpu_during <= 1.0
    print(f"   {PACKS} packs at 1 Hz for {wall_s:.0f} s: {end_published:,} state messages "
          f"published ({3 * end_published:,} messages), {visible[-1][1]:,} state rows "
          f"visible; about {rows_per_s:,.0f} rows/s written (state, cells 1/60 s, limits "
          f"1/10 s)")
    print(f"   lag publish -> visible: median {lag_p50:.2f} s, p99 {lag_p99:.2f} s (target "
          f"<= {TARGET_LAG_P99_S:g}); backlog max in the first quarter {max(quarter):,}, in "
          f"the last {max(last):,} ({'growing' if growing else 'not growing'}); historian "
          f"CPU {cpu_during:.2f} cores: {'met' if met else 'NOT met'}")
    print("   " + out.decode(errors="replace").strip().splitlines()[-1])
    return {"packs": PACKS, "seconds": wall_s, "state_published": end_published,
            "state_visible": visible[-1][1], "rows_per_s": rows_per_s, "lag_p50_s": lag_p50,
            "lag_p99_s": lag_p99, "backlog_first_quarter": max(quarter),
            "backlog_last_quarter": max(last), "historian_cores": cpu_during,
            "targets_met": met}
