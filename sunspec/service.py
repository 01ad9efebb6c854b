"""`bms sunspec`'s process: the pack's telemetry topics (aiomqtt, the read-only broker user
of `[sunspec]`) into the dashboard's live model (web/model.py), served as SunSpec models
1, 802, 803, 804 over Modbus TCP (sunspec/server.py); with controls on, the writes a site
controller may make go out as the operator's MQTT commands. A process of its own beside
the master: nothing here runs in a master's control loop, and the master cannot tell it
from any other subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt

from bms.settings import Settings
from master.telemetry.clients import operator_sender, tls_of
from master.telemetry.commands import parse_command
from master.telemetry.payloads import pack_bytes
from master.telemetry.publisher import Backoff
from sunspec.controls import Command, Keep, ModbusError, judge_write
from sunspec.errors import SunSpecError
from sunspec.mapping import Controls, Values, point_values
from sunspec.nameplate import nameplate_of
from sunspec.registers import Layout, scales_of
from sunspec.server import ModbusServer
from web.model import RESULT, SiteModel

log = logging.getLogger(__name__)
TOPICS = ("state", "cells", "limits", "online", RESULT)
COMMAND_TIMEOUT_S = 3.0  # within what Modbus clients wait for a write's answer
KEEPALIVE_S = 30

SendCommand = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class Served:
    listen: str
    port: int
    unit_id: int
    pack: str


@dataclass
class SunSpecStats:
    received: int = 0
    broker_connects: int = 0
    reads: int = 0
    writes: int = 0
    refused: int = 0
    commands_sent: int = 0
    command_failures: int = 0


def operator_sender_of(settings: Settings, pack: str) -> SendCommand | None:
    """Controls as the operator user's commands to ``pack``; None without its password."""
    s = settings.sunspec
    send = operator_sender(settings.mqtt, s.operator_username, s.operator_password_env,
                           COMMAND_TIMEOUT_S)
    if send is None:
        return None

    async def to_pack(payload: bytes) -> None:
        await send(pack, payload)

    return to_pack


class SunSpecService:
    """``send``: how controls reach the master (default: as the operator user)."""

    def __init__(self, settings: Settings, send: SendCommand | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        s = settings.sunspec
        self.settings = settings
        self.pack = s.pack or settings.pack.name
        self.nameplate = nameplate_of(settings, self.pack)
        self.layout = Layout(s.base_address, settings.pack.modules)
        self.scales = scales_of(self.nameplate)
        self.model = SiteModel(settings.mqtt.prefix)
        self.controls = Controls(enabled=s.controls)
        self.stats = SunSpecStats()
        self.connected = asyncio.Event()
        self.clock = clock
        self.arrived_s: dict[str, float] = {}  # topic -> when it last arrived (clock)
        self.send = send if send is not None else operator_sender_of(settings, self.pack)
        if s.controls and self.send is None:
            raise SunSpecError(f"sunspec.controls is on but {s.operator_password_env} (the "
                               f"password of {s.operator_username}) is not set")

    # --- the pack's telemetry -----------------------------------------------------------

    def topics(self) -> list[str]:
        return [f"{self.settings.mqtt.prefix}/{self.pack}/{kind}" for kind in TOPICS]

    def on_message(self, topic: str, payload: bytes) -> None:
        self.stats.received += 1
        update = self.model.apply(topic, payload)
        if update is None or update.pack != self.pack:
            return
        self.arrived_s[update.kind] = self.clock()
        if update.kind == "result" and str(update.data.get("id", "")).startswith("sunspec-"):
            log.info("sunspec: the master %s command %s%s",
                     "accepted" if update.data.get("accepted") else "refused",
                     update.data.get("id"), f": {update.data.get('reason')}"
                     if update.data.get("reason") else "")

    def values(self) -> Values:
        now = self.clock()
        ages = {kind: now - at for kind, at in self.arrived_s.items()}
        return point_values(self.model.packs.get(self.pack), self.nameplate, self.controls,
                            self.settings.sunspec.unit_id, ages,
                            self.settings.sunspec.stale_after_s)

    # --- the register map (sunspec.server.RegisterMap) ------------------------------------

    def read(self, address: int, count: int) -> list[int]:
        self.stats.reads += 1
        offset = address - self.layout.base
        return self.layout.image(self.values(), self.scales)[offset:offset + count]

    async def write(self, address: int, values: list[int]) -> ModbusError | None:
        self.stats.writes += 1
        verdict = judge_write(self.layout, address, values, self.controls.enabled)
        if isinstance(verdict, ModbusError):
            self.stats.refused += 1
            log.info("sunspec: write of %d registers at %d refused: %s", len(values), address,
                     verdict.name)
            return verdict
        for action in verdict:
            if isinstance(action, Keep) and action.point == "CtrlHb":
                self.controls = dataclasses.replace(self.controls, ctrl_hb=action.value)
            elif isinstance(action, Keep):
                self.controls = dataclasses.replace(self.controls, inverter_state=action.value)
            elif not await self._command(action):
                return ModbusError.DEVICE_FAILURE
        return None

    async def _command(self, command: Command) -> bool:
        payload = pack_bytes({"command": command.name, **command.arguments,
                              "id": f"sunspec-{secrets.token_hex(6)}"})
        parse_command(payload)  # the master's own check: a bad command is a bug here
        assert self.send is not None  # controls are on only with a sender
        try:
            await self.send(payload)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            self.stats.command_failures += 1
            log.warning("sunspec: %s not sent: %s", command.name, exc)
            return False
        self.stats.commands_sent += 1
        log.info("sunspec: sent %s %s to %s", command.name, command.arguments or "", self.pack)
        return True

    # --- the process --------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        mqtt, s = self.settings.mqtt, self.settings.sunspec
        password = os.environ.get(s.mqtt_password_env) if s.mqtt_username else None
        return aiomqtt.Client(mqtt.host, mqtt.port, username=s.mqtt_username or None,
                              password=password, tls_params=tls_of(mqtt.tls_ca_file),
                              keepalive=KEEPALIVE_S, timeout=10)

    async def _subscribe(self, stop: asyncio.Event) -> None:
        mqtt = self.settings.mqtt
        backoff = Backoff(mqtt.reconnect_min_s, mqtt.reconnect_max_s)
        while not stop.is_set():
            was_up = False
            try:
                async with self._client() as client:
                    for topic in self.topics():
                        await client.subscribe(topic, qos=1)
                    self.stats.broker_connects += 1
                    self.connected.set()
                    was_up = True
                    async for message in client.messages:
                        self.on_message(str(message.topic), bytes(message.payload or b""))
            except aiomqtt.MqttError as exc:  # the broker away or refusing: again, later
                log.warning("sunspec: broker %s:%d: %s", mqtt.host, mqtt.port, exc)
            self.connected.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff.next_s(was_up)):
                    await stop.wait()

    async def run(self, stop: asyncio.Event, served: Callable[[Served], None]) -> None:
        """Until ``stop`` (or cancelled): the subscription and the Modbus server."""
        s = self.settings.sunspec
        async with ModbusServer(self, self.layout.base, self.layout.length, s.listen, s.port,
                                s.unit_id) as server:
            served(Served(s.listen, server.port, s.unit_id, self.pack))
            async with asyncio.TaskGroup() as tasks:
                subscription = tasks.create_task(self._subscribe(stop), name="sunspec-mqtt")
                await stop.wait()
                subscription.cancel()
