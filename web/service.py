"""`bms web`'s process: the packs' topics through a historian subscription (QoS 1, a
persistent session: events that arrive while the dashboard is down wait on the broker)
into the live model, the history and the alarms; the HTTP server beside it; commands out as
the operator user. A process of its own: nothing here runs in a master's control loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bms.settings import Settings
from historian.service import Historian, HistorianSettings
from master.telemetry.clients import SendCommand, operator_sender
from web.alarms import AlarmRouter, Notification
from web.auth import Sessions, User, read_users
from web.history import CELLS_EVERY_S, History
from web.model import MAX_EVENTS, RESULT, SiteModel
from web.notifier import Notifier
from web.server import Dashboard, make_app

log = logging.getLogger(__name__)
STOP_S = 5.0
ALARMS_DUE_S = 5.0
RESULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Served:
    url: str
    port: int


def command_sender(settings: Settings) -> SendCommand | None:
    """Commands as the operator user; None without its password (commands off)."""
    w = settings.web
    return operator_sender(settings.mqtt, w.operator_username, w.operator_password_env,
                           RESULT_TIMEOUT_S)


class WebService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        w = settings.web
        self.model = SiteModel(settings.mqtt.prefix)
        self.history = History(Path(w.history_path), w.history_full_s, w.history_coarse_s)
        users: dict[str, User] = read_users(Path(w.users_file)) if w.users_file else {}
        self.board = Dashboard(
            self.model, self.history, users, Sessions(w.session_idle_s, w.session_max_s),
            w.login_to_view, command_sender(settings) if users else None,
            secure_cookies=bool(w.tls_cert_file))
        self.alarms = AlarmRouter(w.alarms, w.alarm_offline_grace_s)
        self.notifier = Notifier(url for route in w.alarms for url in route.urls)
        mqtt = settings.mqtt
        self.historian = Historian(
            HistorianSettings(
                host=mqtt.host, port=mqtt.port, username=w.mqtt_username,
                password_env=w.mqtt_password_env, tls_ca_file=mqtt.tls_ca_file,
                prefix=mqtt.prefix, client_id=f"bms-web-{socket.gethostname()}-{w.port}",
                cells_every_s=CELLS_EVERY_S, limits_every_s=CELLS_EVERY_S,
                retention_days=w.history_days),
            self.history, observer=self.on_message,
            extra_topics=(f"{mqtt.prefix}/+/{RESULT}",))

    def on_message(self, topic: str, payload: bytes) -> None:
        update = self.model.apply(topic, payload)
        if update is None:
            return
        self.board.publish(update)
        if update.kind == "events" and isinstance(update.data.get("freeze"), dict):
            self.history.note_freeze(update.pack, update.data["id"], update.data["freeze"])
        if update.kind == "events":
            self._notify(self.alarms.on_event(update.pack, update.data, time.time()))
        elif update.kind == "online":
            self._notify(self.alarms.on_online(update.pack, bool(update.data.get("online")),
                                               time.time()))

    def _notify(self, notifications: list[Notification]) -> None:
        for notification in notifications:
            self.notifier.send(notification)

    async def _alarms_due(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._notify(self.alarms.due(time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ALARMS_DUE_S)

    async def run(self, stop: asyncio.Event, served: Callable[[Served], None],
                  unix_socket: Path | None = None) -> None:
        w = self.settings.web
        for pack in await asyncio.to_thread(self.history.packs):
            events = await asyncio.to_thread(self.history.events, pack, MAX_EVENTS)
            self.model.seed_events(pack, events[::-1])
        runner = web.AppRunner(make_app(self.board), access_log=None, shutdown_timeout=STOP_S)
        await runner.setup()
        context = None
        if w.tls_cert_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(w.tls_cert_file, w.tls_key_file)
        sock = _listening(w.listen, w.port)
        port = int(sock.getsockname()[1])
        await web.SockSite(runner, sock, ssl_context=context).start()
        if unix_socket is not None:
            with contextlib.suppress(FileNotFoundError):  # a stale one from a killed run
                os.unlink(unix_socket)
            await web.UnixSite(runner, str(unix_socket)).start()
        host = f"[{w.listen}]" if ":" in w.listen else w.listen
        served(Served(f"{'https' if context else 'http'}://{host}:{port}/", port))
        self.notifier.start()
        tasks = [asyncio.create_task(self.historian.run(stop), name="history"),
                 asyncio.create_task(self._alarms_due(stop), name="alarms")]
        try:
            await stop.wait()
        finally:
            for queue in list(self.board.streams):  # the browsers' streams end first
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)
            await runner.cleanup()
            await asyncio.gather(*tasks)
            await self.notifier.stop()


def _listening(address: str, port: int) -> socket.socket:
    """The server's socket, bound here so that port 0 (any free one) can be told."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock
