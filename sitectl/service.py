"""`bms site`'s process: the packs' telemetry from the broker (QoS 1, a persistent session:
what is published while the site is away waits for it), the site controller's core every
``TICK_S``, its commands to the packs' command topics, its own telemetry, and the inverter
on the site's inverter bus. The safe state is the ``finally``: at the stop every pack is
asked to leave (standby), and the inverter, without the site's frames, stops on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from bms.can_port import CanPort
from bms.settings import Settings, bus_kwargs, inverter_bus
from dbc.codec import CanFrame, inverter_codec
from dbc.endpoint import FrameReceiver, FrameSender
from master.telemetry.clients import tls_of
from master.telemetry.payloads import unpack
from master.telemetry.publisher import Backoff
from sitectl.core import SiteCore, SiteOutputs
from sitectl.payload import site_payload, site_topic
from sitectl.report import SiteReport

log = logging.getLogger(__name__)
TICK_S = 0.05  # how soon a pack's new limits reach the inverter frame (docs/site.md)
KINDS = ("state", "limits", "cells", "online", "command/result")
STOP_S = 5.0


@dataclass
class SiteStatistics:
    messages: int = 0
    bad_messages: int = 0
    commands: int = 0
    broker_connects: int = 0
    inverter_frames: int = 0
    last_error: str = ""


class SiteService:
    def __init__(self, settings: Settings,
                 on_report: Callable[[SiteReport], None] | None = None) -> None:
        self.settings = settings
        self.core = SiteCore(settings, time.time())
        self.statistics = SiteStatistics()
        self.on_report = on_report
        self._pending: list[tuple[str, bytes]] = []  # (topic, payload): published when up
        self.connected = asyncio.Event()
        self._queued = asyncio.Event()
        self._drained = asyncio.Event()
        protocol = settings.endpoints.inverter
        self._inverter_codec = inverter_codec(protocol) if protocol != "none" else None

    def topics(self) -> list[str]:
        prefix = self.settings.mqtt.prefix
        return [f"{prefix}/{pack}/{kind}" for pack in self.settings.site.packs for kind in KINDS]

    def on_message(self, topic: str, payload: bytes, now_s: float) -> None:
        self.statistics.messages += 1
        prefix = self.settings.mqtt.prefix + "/"
        if not topic.startswith(prefix):
            return
        pack, _, kind = topic[len(prefix):].partition("/")
        try:
            data = unpack(payload)
        except ValueError:
            self.statistics.bad_messages += 1
            return
        if not self.core.on_message(pack, kind, data, now_s):
            self.statistics.bad_messages += kind not in ("state", "limits")

    def _client_for(self) -> aiomqtt.Client:
        mqtt, site = self.settings.mqtt, self.settings.site
        password = os.environ.get(site.mqtt_password_env) if site.mqtt_username else None
        return aiomqtt.Client(
            mqtt.host, mqtt.port, username=site.mqtt_username or None, password=password,
            identifier=f"bms-site-{site.name}-{socket.gethostname()}", clean_session=False,
            tls_params=tls_of(mqtt.tls_ca_file), keepalive=30, timeout=10)

    async def _mqtt(self, stop: asyncio.Event) -> None:
        mqtt = self.settings.mqtt
        backoff = Backoff(mqtt.reconnect_min_s, mqtt.reconnect_max_s)
        while not stop.is_set():
            was_up = False
            try:
                async with self._client_for() as client:
                    for topic in self.topics():
                        await client.subscribe(topic, qos=1)
                    was_up = True
                    self.statistics.broker_connects += 1
                    self.connected.set()
                    sender = asyncio.create_task(self._send(client), name="site-send")
                    try:
                        async for message in client.messages:
                            self.on_message(str(message.topic),
                                            bytes(message.payload or b""), time.time())
                    finally:
                        sender.cancel()
                        await asyncio.gather(sender, return_exceptions=True)
            except Exception as exc:  # the broker away or refusing: the session goes on
                self.statistics.last_error = f"broker: {type(exc).__name__}: {exc}"
                log.warning("site: broker: %s", exc)
            self.connected.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff.next_s(was_up))

    async def _flush(self, client: aiomqtt.Client) -> None:
        while self._pending:
            topic, payload = self._pending[0]
            await client.publish(topic, payload, qos=1)
            self._pending.pop(0)
        self._drained.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        """What the decisions queued, while connected (the decisions never wait on it)."""
        while True:
            await self._queued.wait()
            self._queued.clear()
            await self._flush(client)

    def _queue_outputs(self, out: SiteOutputs) -> None:
        prefix = self.settings.mqtt.prefix
        for pack, payload in out.commands:
            self.statistics.commands += 1
            self._pending.append((f"{prefix}/{pack}/command", payload))
        if out.report is not None:
            site = self.settings.site
            # the newest report only: an old one is of no use to anyone
            self._pending = [p for p in self._pending if not p[0].startswith(f"{site.prefix}/")]
            self._pending.append((site_topic(site.prefix, site.name), site_payload(out.report)))
            if self.on_report is not None:
                self.on_report(out.report)
        if self._pending:
            self._queued.set()

    async def _decide(self, stop: asyncio.Event, port: CanPort | None) -> None:
        sender = FrameSender(self._inverter_codec) if self._inverter_codec else None
        while not stop.is_set():
            out = self.core.tick(time.time())
            for frame in out.inverter:
                if port is not None and sender is not None:
                    port.send(sender.encode(frame))
                    self.statistics.inverter_frames += 1
            self._queue_outputs(out)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)

    def _on_inverter_frame(self, receiver: FrameReceiver) -> Callable[[CanFrame, float], None]:
        def take(frame: CanFrame, _now: float) -> None:
            reception = receiver.receive(frame)
            if reception is not None and reception.frame is not None:
                self.core.on_inverter_frame(reception.frame, time.time())
        return take

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        bus = inverter_bus(settings)
        async with contextlib.AsyncExitStack() as stack:
            port = None
            if bus is not None and self._inverter_codec is not None:
                port = await stack.enter_async_context(
                    CanPort(bus_kwargs(settings, bus), f"{bus}/site"))
                port.subscribe(self._on_inverter_frame(
                    FrameReceiver(self._inverter_codec, 0, "Master")))
            tasks = [asyncio.create_task(self._mqtt(stop), name="site-mqtt"),
                     asyncio.create_task(self._decide(stop, port), name="site-decide")]
            try:
                await stop.wait()
            finally:
                await self._leave(tasks)

    async def _leave(self, tasks: list[asyncio.Task[None]]) -> None:
        """Every pack asked to leave, as the last thing sent (within ``STOP_S``)."""
        self._pending = [(f"{self.settings.mqtt.prefix}/{pack}/command", payload)
                         for pack, payload in self.core.stop_commands()]
        self._drained.clear()
        self._queued.set()
        with contextlib.suppress(TimeoutError):  # sent by the connection's sender
            await asyncio.wait_for(self._drained.wait(), STOP_S)
        if self._pending:
            log.warning("site: could not ask %d packs to leave at the stop", len(self._pending))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
