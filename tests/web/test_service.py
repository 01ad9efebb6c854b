"""`bms web`'s process end to end with the project's Mosquitto: what the master publishes
reaches the page's API, the history and, through apprise, an alarm receiver; the dashboard
over TLS."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp import web

from bms.settings import Settings, load_settings
from bms.web_settings import AlarmRoute
from master.diagnosis.table import DiagId, Severity
from master.events import DiagnosisChange, DiagnosisEvent, Location
from master.store_writer import stored
from master.telemetry.payloads import event_payload, pack_bytes
from testbed.brokers import PASSWORDS, ProjectBroker, project_broker
from testbed.waiting import wait_until
from web.service import Served, WebService

pytestmark = pytest.mark.multiprocess  # a broker on loopback
DEADLINE_S = 20.0


def _event(event_id: int) -> bytes:
    event = DiagnosisEvent(100.0, DiagId.CELL_OVERVOLTAGE_MSL, DiagnosisChange.SET,
                           Severity.FATAL, Location(1, 3), 4300.0, 4250.0)
    record = dataclasses.replace(stored(event, 1_800_000_000.0, {"state": "NORMAL"}),
                                 id=event_id)
    return event_payload(record)


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook on a free loopback port: apprise's json:// posts arrive in the list."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/alarm", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"json://127.0.0.1:{port}/alarm", received
    finally:
        await runner.cleanup()


@asynccontextmanager
async def dashboard(settings: Settings) -> AsyncIterator[Served]:
    service = WebService(settings)
    stop = asyncio.Event()
    served: list[Served] = []
    task = asyncio.create_task(service.run(stop, served.append))
    try:
        await wait_until(lambda: bool(served) or task.done(), DEADLINE_S, "the dashboard up")
        assert not task.done(), task
        await wait_until(service.historian.connected.is_set, DEADLINE_S, "subscribed")
        yield served[0]
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)


def _settings(broker: ProjectBroker, tmp_path: Path, **web: Any) -> Settings:
    settings = load_settings(None, [f"mqtt.port={broker.port}", "web.port=0",
                                    f"web.history_path={tmp_path / 'web.sqlite'}"])
    return dataclasses.replace(settings, web=dataclasses.replace(settings.web, **web))


def _get(url: str, context: ssl.SSLContext | None = None) -> Any:
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        return json.load(response)


async def test_a_fault_reaches_the_page_the_history_and_an_alarm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_MONITOR_PASSWORD", PASSWORDS["monitor"])
    async with project_broker(tmp_path / "broker") as broker, receiver() as (url, received):
        route = AlarmRoute(severities=("fatal",), urls=(url,), min_interval_s=0.0)
        async with dashboard(_settings(broker, tmp_path, alarms=(route,))) as served, \
                aiomqtt.Client("127.0.0.1", broker.port, username="bms-master",
                               password=PASSWORDS["bms-master"]) as master:
            await master.publish("bms/p1/state", pack_bytes({"t": 1.0, "state": "NORMAL"}),
                                 qos=1)
            for _ in range(2):  # the second a resend of the outbox
                await master.publish("bms/p1/events", _event(7), qos=1)
            await wait_until(lambda: bool(received), DEADLINE_S, "the alarm at the webhook")

            def events() -> list[Any]:
                return list(_get(served.url + "api/packs")[0]["events"])

            shown = await asyncio.to_thread(events)
            assert [e["id"] for e in shown] == [7]
            assert shown[0]["freeze"] == {"state": "NORMAL"}

            stored: list[Any] = []

            async def fetch_stored() -> None:  # HTTP off the loop that serves it
                while not stored:
                    stored.extend(await asyncio.to_thread(_get, served.url +
                                                          "api/events?pack=p1"))

            await asyncio.wait_for(fetch_stored(), DEADLINE_S)
            assert [e["id"] for e in stored] == [7]
            assert stored[0]["freeze"] == {"state": "NORMAL"}
    assert len(received) == 1  # the resend is no second alarm
    message = received[0]["title"] + " " + received[0]["message"]  # apprise json:// keys
    assert "p1" in message
    assert "module 1" in message
    assert "cell 3" in message
    assert "4300" in message
    assert "4250" in message


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl for a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return cert, key


async def test_the_dashboard_serves_https_with_a_certificate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        certificate: tuple[Path, Path]) -> None:
    monkeypatch.setenv("BMS_MONITOR_PASSWORD", PASSWORDS["monitor"])
    cert, key = certificate
    async with project_broker(tmp_path / "broker") as broker:
        settings = _settings(broker, tmp_path, tls_cert_file=str(cert), tls_key_file=str(key))
        async with dashboard(settings) as served:
            assert served.url.startswith("https://127.0.0.1:")
            trusted = ssl.create_default_context(cafile=str(cert))
            session = await asyncio.to_thread(_get, served.url + "api/session", trusted)
            assert session["user"] is None
            # plain HTTP on the TLS port gets no answer
            with pytest.raises((ConnectionError, http.client.HTTPException)):
                await asyncio.to_thread(_get, served.url.replace("https", "http", 1) +
                                        "api/session")
