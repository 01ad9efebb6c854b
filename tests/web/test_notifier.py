"""The notifier end to end: apprise's json:// posts to a real HTTP server on loopback (aiohttp,
in the test's loop); a URL nobody listens on, or one that never answers, is logged without
its password and holds up nothing else."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from bms.errors import ConfigError
from web.alarms import Notification
from web.notifier import Notifier, safe_address

TIMEOUT_S = 10.0


class Receiver:
    """An HTTP server taking apprise's JSON posts: /alarms answers, /slow only once released."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Condition()
        self.release = asyncio.Event()
        self.port = 0

    async def alarm(self, request: web.Request) -> web.Response:
        payload = await request.json()
        async with self.arrived:
            self.received.append({"path": request.path, **payload})
            self.arrived.notify_all()
        return web.Response(text="ok")

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.Response(text="late")

    def url(self, path: str = "alarms", credentials: str = "") -> str:
        return f"json://{credentials}127.0.0.1:{self.port}/{path}"

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(TIMEOUT_S), self.arrived:
            await self.arrived.wait_for(lambda: len(self.received) >= count)
        return self.received


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/alarms", receiver.alarm)
    app.router.add_post("/other", receiver.alarm)
    app.router.add_post("/slow", receiver.slow)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = runner.addresses[0][1]
    try:
        yield receiver
    finally:
        receiver.release.set()
        await runner.cleanup()


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: a connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def notification(urls: tuple[str, ...], title: str = "garage-1: cell_overvoltage_msl (fatal)",
                 severity: str = "fatal", cleared: bool = False) -> Notification:
    return Notification(urls, title, f"{title}: the body", severity, "garage-1/x/pack", cleared)


async def test_a_notification_reaches_the_server_with_its_title_and_body(
        receiver: Receiver) -> None:
    async with Notifier([receiver.url()]) as notifier:
        assert notifier.send(notification((receiver.url(),)))
        [got] = await receiver.wait_for(1)
    assert got["path"] == "/alarms"
    assert got["title"] == "garage-1: cell_overvoltage_msl (fatal)"
    assert got["message"] == "garage-1: cell_overvoltage_msl (fatal): the body"
    assert got["type"] == "failure"
    assert notifier.statistics.sent == 1


async def test_each_url_of_a_notification_gets_it(receiver: Receiver) -> None:
    urls = (receiver.url("alarms"), receiver.url("other"))
    async with Notifier(urls) as notifier:
        notifier.send(notification(urls, severity="warning", cleared=True))
        got = await receiver.wait_for(2)
    assert sorted(g["path"] for g in got) == ["/alarms", "/other"]
    assert {g["type"] for g in got} == {"success"}  # a clear


async def test_a_failing_url_is_logged_without_its_password_and_stops_nothing(
        receiver: Receiver, dead_port: int, caplog: pytest.LogCaptureFixture) -> None:
    dead = f"json://alarm:hunter2secret@127.0.0.1:{dead_port}/alarms"
    caplog.set_level(logging.INFO)
    async with Notifier([dead, receiver.url()]) as notifier:
        notifier.send(notification((dead, receiver.url()), title="first"))
        notifier.send(notification((receiver.url(),), title="second"))
        got = await receiver.wait_for(2)
    assert [g["title"] for g in got] == ["first", "second"]
    assert (notifier.statistics.sent, notifier.statistics.failed) == (2, 1)
    failures = [r.getMessage() for r in caplog.records
                if r.name == "web.notifier" and r.levelno >= logging.ERROR]
    assert failures == ["alarm to json://127.0.0.1 not delivered: first"]
    assert "hunter2secret" not in caplog.text


async def test_apprise_logs_no_ntfy_topic(dead_port: int,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    topic = f"ntfy://127.0.0.1:{dead_port}/secret-topic"
    notifier = Notifier([topic])
    notifier.start()
    notifier.send(notification((topic,)))
    await notifier.stop()  # delivers (tries) what is queued
    assert notifier.statistics.failed == 1
    assert "alarm to ntfy://127.0.0.1 not delivered" in caplog.text
    assert "secret-topic" not in caplog.text


async def test_a_url_that_never_answers_times_out_and_the_next_goes_out(
        receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    slow = receiver.url("slow", credentials="alarm:hunter2secret@")
    async with Notifier([slow, receiver.url()], send_timeout_s=0.2) as notifier:
        notifier.send(notification((slow,), title="first"))
        notifier.send(notification((receiver.url(),), title="second"))
        [got] = await receiver.wait_for(1)
    assert got["title"] == "second"
    assert notifier.statistics.failed == 1
    assert "alarm to json://127.0.0.1 timed out after 0.2 s: first" in caplog.text
    assert "hunter2secret" not in caplog.text


async def test_stop_delivers_what_is_queued(receiver: Receiver) -> None:
    notifier = Notifier([receiver.url()])
    notifier.start()
    for k in range(3):
        assert notifier.send(notification((receiver.url(),), title=f"alarm {k}"))
    await notifier.stop()
    assert [g["title"] for g in receiver.received] == ["alarm 0", "alarm 1", "alarm 2"]
    await notifier.stop()  # twice is fine
    assert not notifier.send(notification((receiver.url(),)))
    assert notifier.statistics.dropped == 1


async def test_a_full_queue_drops_and_counts(receiver: Receiver,
                                             caplog: pytest.LogCaptureFixture) -> None:
    async with Notifier([receiver.url()], capacity=1) as notifier:
        assert notifier.send(notification((receiver.url(),), title="kept"))
        assert not notifier.send(notification((receiver.url(),), title="dropped"))
        [got] = await receiver.wait_for(1)
    assert got["title"] == "kept"
    assert notifier.statistics.dropped == 1
    assert "alarm queue full (1): dropped dropped" in caplog.text


def test_an_unknown_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="nosuchscheme://"):
        Notifier(["nosuchscheme://user:pw@127.0.0.1/x"])


@pytest.mark.parametrize(("url", "shown"), [
    ("json://user:pw@127.0.0.1:8080/path", "json://127.0.0.1"),
    ("mailtos://user:pw@mail.example.com?to=ops@example.com", "mailtos://mail.example.com"),
    ("tgram://123456789:ABCdefGHIjkl/987654", "tgram://1...l"),
    ("ntfys://secret-topic", "ntfys://..."),  # on ntfy.sh the topic is the secret
    ("ntfys://ntfy.example.com/bms", "ntfys://ntfy.example.com"),
    ("json://[::1]:8080/x", "json://::1"),
    ("nosuchscheme://user:pw@127.0.0.1/x", "nosuchscheme://"),
])
def test_logs_show_scheme_and_host_only(url: str, shown: str) -> None:
    assert safe_address(url) == shown
