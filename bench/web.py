"""The dashboard (`bms web`) under a fleet's load: 200 simulated packs at 1 Hz through the
project's Mosquitto, ten browsers on its live stream, measured from outside it.

Every simulated second each pack publishes its state (QoS 1), its cells (96 cells) and its
limits (QoS 0), as a master does: 600 messages a second. `bms web` is the real command in a
process of its own (history on, alarms off); ten clients hold `/api/stream` open as a
browser's EventSource does and take, for every state update they receive, its lag from
publish (the payload's t, the publisher's wall clock) to its arrival. A probe asks for a
pack's hour of history every second, as open chart pages do. Figures: the lag's median and
99th percentile over every stream, updates received against those expected, the chart
request's time, the dashboard's CPU in cores and its memory. Targets: the lag p99 within the
2 s an event may take to reach the page, no update lost, the dashboard within half a core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from bench.historian import cpu_s, messages
from testbed.brokers import PASSWORDS, project_broker
from testbed.waiting import wait_until

PACKS = 200
STREAMS = 10
TARGET_LAG_P99_S = 2.0
TARGET_CORES = 0.5
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE / 2**20


async def publish(port: int, seconds: float, published: list[int]) -> None:
    quiet = logging.getLogger("bench.web.publisher")
    quiet.setLevel(logging.ERROR)
    async with aiomqtt.Client("127.0.0.1", port, username="bms-master",
                              password=PASSWORDS["bms-master"], logger=quiet,
                              max_inflight_messages=1000) as client:
        start = time.time()
        for second in range(int(seconds)):
            await asyncio.sleep(max(0.0, start + second - time.time()))
            now = time.time()
            await asyncio.gather(*(client.publish(topic, payload, qos=qos)
                                   for pack in range(PACKS)
                                   for topic, payload, qos in messages(pack, now)))
            published[0] += PACKS


async def stream(session: aiohttp.ClientSession, url: str, lags: list[float],
                 received: list[int], ready: asyncio.Event) -> None:
    async with session.get(url + "api/stream") as response:
        kind = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                if kind == "snapshot":
                    ready.set()
                    continue
                update = json.loads(line[6:])
                if update["kind"] == "state":
                    lags.append(time.time() - update["data"]["t"])
                    received[0] += 1


async def charts(session: aiohttp.ClientSession, url: str, until: asyncio.Event,
                 times: list[float]) -> None:
    while not until.is_set():
        started = time.perf_counter()
        async with session.get(url + "api/history", params={
                "pack": "pack-0000", "since": str(time.time() - 3600)}) as response:
            await response.read()
        times.append(time.perf_counter() - started)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await until.wait()


async def run(seconds: float) -> dict[str, Any]:
    seconds = max(seconds, 20.0)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        async with project_broker(directory / "broker") as broker:
            env = {**os.environ, "BMS_MONITOR_PASSWORD": PASSWORDS["monitor"]}
            web = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bms", "web", "--set", f"mqtt.port={broker.port}",
                "--set", "web.port=0", "--set", f"web.history_path={directory / 'web.sqlite'}",
                "--url-file", str(directory / "url"), "--log-level", "warning", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            await wait_until((directory / "url").exists, 60.0, "the dashboard serving")
            url = (directory / "url").read_text().strip()
            lags: list[float] = []
            received, published = [0], [0]
            chart_s: list[float] = []
            until = asyncio.Event()
            async with aiohttp.ClientSession() as session:
                ready = [asyncio.Event() for _ in range(STREAMS)]
                streams = [asyncio.create_task(stream(session, url, lags, received, r))
                           for r in ready]
                await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 30.0)
                chart = asyncio.create_task(charts(session, url, until, chart_s))
                cpu_before, started = cpu_s(web.pid), time.time()
                await publish(broker.port, seconds, published)
                cores = (cpu_s(web.pid) - cpu_before) / (time.time() - started)
                expected = published[0] * STREAMS
                with contextlib.suppress(AssertionError):  # the tail drains, or is lost
                    await wait_until(lambda: received[0] >= expected, 10.0, "drained")
                memory_mb = rss_mb(web.pid)
                until.set()
                await chart
                for task in streams:
                    task.cancel()
                await asyncio.gather(*streams, return_exceptions=True)
            web.send_signal(2)
            await web.communicate()
    p50, p99 = statistics.median(lags), statistics.quantiles(lags, n=100)[98]
    chart_p50 = statistics.median(chart_s)
    met = p99 <= TARGET_LAG_P99_S and received[0] >= expected and cores <= TARGET_CORES
    print(f"   {PACKS} packs at 1 Hz ({3 * PACKS} messages/s) for {seconds:.0f} s, "
          f"{STREAMS} live streams: {received[0]:,} of {expected:,} state updates received")
    print(f"   lag publish -> stream: median {p50:.3f} s, p99 {p99:.3f} s (target <= "
          f"{TARGET_LAG_P99_S:g} s: {p99 / TARGET_LAG_P99_S:.2f} of it); an hour's chart "
          f"{chart_p50 * 1000:.0f} ms (median); dashboard {cores:.2f} cores (target <= "
          f"{TARGET_CORES:g}: {cores / TARGET_CORES:.2f} of it), {memory_mb:.0f} MB: "
          f"{'met' if met else 'NOT met'}")
    return {"packs": PACKS, "streams": STREAMS, "seconds": seconds,
            "updates_expected": expected, "updates_received": received[0],
            "lag_p50_s": p50, "lag_p99_s": p99, "chart_p50_s": chart_p50,
            "dashboard_cores": cores, "dashboard_rss_mb": memory_mb, "targets_met": met}
