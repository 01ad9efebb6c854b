"""The master's MQTT client (aiomqtt), on an event loop in a thread of its own: a broker that
is down, slow or refusing never holds up the control loop, which only hands over bytes.

- Durable messages (events, state) come from the outbox in the master's SQLite store, in
  id order, at QoS 1; a message leaves the outbox only once the broker acknowledged it. A
  crash between the acknowledgement and the deletion sends it again: subscribers
  deduplicate (events by ``id``, state by ``t``).
- Live messages (cells, limits) are retained QoS 0 and only the latest of each topic waits
  while the broker is away; command results (QoS 1) wait, each, up to RESULTS_KEPT.
- ``online`` is retained: true after each connect, false on a clean stop and, through the
  last will, when the master vanishes.
- With Home Assistant (``mqtt.home_assistant``, master/telemetry/home_assistant.py): its
  discovery configs (retained, QoS 1) and its availability ``online`` after each connect (a
  broker without persistence forgets retained messages when it restarts), ``offline`` on a
  clean stop; its JSON state is a live message.
- Commands arrive on the command topic (QoS 1) and wait, parsed, for the control loop.
  Refused, each with a result saying why: a retained command (it would act again at every
  connect, long after it was sent), an ``id`` seen in the last ``SEEN_IDS`` (a replay),
  anything that does not parse. Beyond ``COMMANDS_PER_S`` (a burst of ``COMMAND_BURST``)
  commands are dropped and counted, without a result each: a flood cannot fill the event
  history or the results.
- Reconnect with exponential back-off between ``reconnect_min_s`` and ``reconnect_max_s``,
  from the minimum again after a connection that was up.
- Nothing that arrives can end the MQTT thread: an unexpected error ends the session, is
  logged and counted, and the client connects again; the control loop's calls never raise.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from bms.endpoint_settings import MqttSettings
from master.store import Store
from master.telemetry.clients import tls_of
from master.telemetry.commands import Command, CommandError, parse_command
from master.telemetry.home_assistant import AVAILABLE, NOT_AVAILABLE, HomeAssistant
from master.telemetry.payloads import Topics, online_payload

log = logging.getLogger(__name__)
OUTBOX_BATCH = 100
RESULTS_KEPT = 100
SEEN_IDS = 1000
COMMANDS_PER_S = 5.0
COMMAND_BURST = 10
KEEPALIVE_S = 10
STOP_TIMEOUT_S = 5.0


@dataclass
class PublisherStatistics:
    connected: bool = False
    connects: int = 0
    connect_failures: int = 0
    durable_published: int = 0
    live_published: int = 0
    live_dropped: int = 0
    discovery_published: int = 0  # Home Assistant's configs, at every connect
    commands_received: int = 0
    commands_invalid: int = 0
    commands_rate_limited: int = 0
    results_published: int = 0
    results_dropped: int = 0  # beyond RESULTS_KEPT waiting while the broker was away
    session_errors: int = 0  # sessions ended by an unexpected error (logged)
    last_error: str = ""


@dataclass(frozen=True)
class InvalidCommand:
    reason: str
    id: str | None = None


class TelemetryPublisher:
    def __init__(self, settings: MqttSettings, pack_name: str, store_path: Path | None,
                 home_assistant: HomeAssistant | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.prefix, pack_name)
        self.home_assistant = home_assistant
        self.client_id = f"bms-master-{pack_name}"
        self.store_path = store_path
        self.statistics = PublisherStatistics()
        self.commands: queue.SimpleQueue[Command | InvalidCommand] = queue.SimpleQueue()
        self._live: dict[str, bytes] = {}
        self._results: deque[bytes] = deque(maxlen=RESULTS_KEPT)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._seen_ids: deque[str] = deque(maxlen=SEEN_IDS)
        self._bucket = TokenBucket(COMMANDS_PER_S, COMMAND_BURST)

    # --- the control loop's side (any thread) ---------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def live(self, topic: str, payload: bytes) -> None:
        """Publish when connected; while not, only the latest of each topic waits."""
        with self._lock:
            if topic in self._live:
                self.statistics.live_dropped += 1
            self._live[topic] = payload
        self.notify()

    def result(self, payload: bytes) -> None:
        """A command's result: each one is sent (not only the latest)."""
        with self._lock:
            if len(self._results) == RESULTS_KEPT:
                self.statistics.results_dropped += 1
                log.warning("MQTT: %d command results dropped: %d wait for the broker already",
                            self.statistics.results_dropped, RESULTS_KEPT)
            self._results.append(payload)
        self.notify()

    def notify(self) -> None:
        """Something to send: the outbox has new rows, or a live message is waiting."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the MQTT thread's loop is gone: telemetry is down, the
                self._loop = None  # control loop goes on (the thread logged why)

    def take_commands(self) -> list[Command | InvalidCommand]:
        taken: list[Command | InvalidCommand] = []
        while True:
            try:
                taken.append(self.commands.get_nowait())
            except queue.Empty:
                return taken

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self._stop.set()
        self.notify()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error("MQTT client did not stop within %.1f s", timeout_s)

    # --- the MQTT thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # telemetry must never take the master down
            log.exception("MQTT client failed")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        store = Store.open(self.store_path) if self.store_path is not None else None
        s = self.settings
        backoff = Backoff(s.reconnect_min_s, s.reconnect_max_s)
        try:
            while not self._stop.is_set():
                connects = self.statistics.connects
                failure = ""
                try:
                    await self._session(store)
                except aiomqtt.MqttError as exc:
                    self.statistics.connect_failures += 1
                    failure = self.statistics.last_error = str(exc)
                except Exception as exc:  # never the thread's end: log, count, reconnect
                    self.statistics.session_errors += 1
                    failure = self.statistics.last_error = repr(exc)
                    log.exception("MQTT session failed")
                self.statistics.connected = False
                if self._stop.is_set():
                    break
                wait_s = backoff.next_s(was_up=self.statistics.connects > connects)
                if failure:
                    log.warning("MQTT %s:%d: %s (retry in %.1f s)", s.host, s.port, failure,
                                wait_s)
                await self._sleep(wait_s)
        finally:
            self._loop = None
            if store is not None:
                store.close()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once for a stop."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            assert self._wake is not None
            self._wake.clear()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self._wake.wait()
            except TimeoutError:
                return

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        password = os.environ.get(s.password_env) if s.username else None
        tls = tls_of(s.tls_ca_file)
        will = aiomqtt.Will(self.topics.online, online_payload(False, 0.0), qos=1, retain=True)
        return aiomqtt.Client(s.host, s.port, username=s.username or None, password=password,
                              identifier=self.client_id, will=will, keepalive=KEEPALIVE_S,
                              tls_params=tls, timeout=KEEPALIVE_S)

    async def _session(self, store: Store | None) -> None:
        async with self._client() as client:
            await client.publish(self.topics.online, online_payload(True, time.time()), qos=1,
                                 retain=True)
            if self.home_assistant is not None:
                await self._announce(client, self.home_assistant)
            await client.subscribe(self.topics.command, qos=1)
            # connected means commands can arrive: only once the broker took the subscription
            self.statistics.connected = True
            self.statistics.connects += 1
            log.info("MQTT connected to %s:%d", self.settings.host, self.settings.port)
            # the session ends when the sender is done (stop) or either fails (connection)
            tasks = {asyncio.create_task(self._receive(client), name="mqtt-receive"),
                     asyncio.create_task(self._send(client, store), name="mqtt-send")}
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                task.result()  # the connection's error, if that is what ended it

    async def _send(self, client: aiomqtt.Client, store: Store | None) -> None:
        assert self._wake is not None
        while not self._stop.is_set():
            self._wake.clear()
            if store is not None:
                await self._drain_outbox(client, store)
            await self._drain_live(client)
            if store is not None and store.outbox(limit=1):
                continue  # more arrived meanwhile
            await self._wake.wait()
        if store is not None:
            await self._drain_outbox(client, store)
        await self._drain_live(client)
        await client.publish(self.topics.online, online_payload(False, time.time()), qos=1,
                             retain=True)
        if self.home_assistant is not None:
            await client.publish(self.home_assistant.availability_topic, NOT_AVAILABLE, qos=1,
                                 retain=True)

    async def _announce(self, client: aiomqtt.Client, home_assistant: HomeAssistant) -> None:
        for topic, payload in home_assistant.discovery():
            await client.publish(topic, payload, qos=1, retain=True)
            self.statistics.discovery_published += 1
        await client.publish(home_assistant.availability_topic, AVAILABLE, qos=1, retain=True)

    async def _drain_outbox(self, client: aiomqtt.Client, store: Store) -> None:
        while rows := store.outbox(limit=OUTBOX_BATCH):
            for _, topic, payload in rows:
                await client.publish(topic, payload, qos=1,
                                     retain=topic == self.topics.state)
                self.statistics.durable_published += 1
            store.delivered(rows[-1][0])

    async def _drain_live(self, client: aiomqtt.Client) -> None:
        with self._lock:
            waiting, self._live = self._live, {}
            results = list(self._results)
            self._results.clear()
        for topic, payload in waiting.items():
            await client.publish(topic, payload, qos=0, retain=True)
            self.statistics.live_published += 1
        for payload in results:
            await client.publish(self.topics.command_result, payload, qos=1)
            self.statistics.results_published += 1

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if not message.topic.matches(self.topics.command):
                continue
            payload = message.payload if isinstance(message.payload, bytes) else \
                str(message.payload).encode()
            self.statistics.commands_received += 1
            if not self._bucket.take(time.monotonic()):
                self.statistics.commands_rate_limited += 1
                continue
            self.commands.put(self.judge(payload, bool(message.retain)))

    def judge(self, payload: bytes, retained: bool) -> Command | InvalidCommand:
        """A received command, or why it is refused (never an exception)."""
        try:
            command = parse_command(payload)
        except CommandError as exc:
            self.statistics.commands_invalid += 1
            return InvalidCommand(str(exc))
        except Exception as exc:  # a parser's bug must not become the thread's end
            log.exception("command not parsed")
            self.statistics.commands_invalid += 1
            return InvalidCommand(f"not a command ({type(exc).__name__})")
        refusal = None
        if retained:
            refusal = "retained commands are refused: publish commands without retain"
        elif command.id is not None and command.id in self._seen_ids:
            refusal = f"id {command.id!r} was seen already: a command is taken once"
        if command.id is not None and command.id not in self._seen_ids:
            self._seen_ids.append(command.id)
        if refusal is not None:
            self.statistics.commands_invalid += 1
            return InvalidCommand(refusal, command.id)
        return command


class Backoff:
    """Waits between connection attempts: doubling from ``min_s`` up to ``max_s``, and from
    ``min_s`` again after a connection that was up (it never was reset before: a master
    that had lost its broker once waited the longest wait at every later outage)."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self._next_s = min_s

    def next_s(self, was_up: bool) -> float:
        if was_up:
            self._next_s = self.min_s
        wait_s = self._next_s
        self._next_s = min(wait_s * 2, self.max_s)
        return wait_s


class TokenBucket:
    """At most ``rate_per_s`` on average, ``burst`` at once."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last_s: float | None = None

    def take(self, now_s: float) -> bool:
        if self.last_s is not None:
            self.tokens = min(self.burst, self.tokens + (now_s - self.last_s) * self.rate_per_s)
        self.last_s = now_s
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
