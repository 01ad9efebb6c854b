"""The historian's process: an MQTT subscription (aiomqtt) feeding batches to a store.

- The subscription is ``<prefix>/+/+`` at QoS 1 with a persistent session (a fixed client
  id, clean_session false): while the historian is away the broker queues the durable
  messages (state, events) for it, up to its ``max_queued_messages``.
- Messages become rows (`historian.rows`); cells and limits are downsampled; a message that
  is no telemetry is counted and dropped.
- Rows wait in memory and go to the store every ``flush_s`` or ``batch_rows``; a store that
  fails (the database away) keeps them and is tried again with back-off, the rows still
  waiting, newer ones behind them. Above ``max_pending_rows`` (2 million rows, about half
  an hour of 1,000 packs) new cells and limits rows are counted and dropped; state and
  events are always kept.
- The broker away: reconnect with back-off, the same session.
- A message is acknowledged to the broker when it is read, not when it is stored: a
  historian killed with rows waiting loses those (at most ``flush_s`` of them in steady
  operation, all that waited through a database outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import aiomqtt

from historian.rows import BadMessageError, Downsampler, Row, to_row
from master.telemetry.clients import tls_of
from master.telemetry.publisher import Backoff

log = logging.getLogger(__name__)


class Store(Protocol):
    kind: str

    def write(self, rows: list[Row]) -> int: ...

    def drop_older_than(self, days: float, now_s: float) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class HistorianSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password_env: str = "BMS_HISTORIAN_PASSWORD"
    tls_ca_file: str = ""
    prefix: str = "bms"
    client_id: str = "bms-historian"
    cells_every_s: float = 60.0
    limits_every_s: float = 10.0
    flush_s: float = 0.5
    batch_rows: int = 5000
    max_pending_rows: int = 2_000_000
    retention_days: float = 90.0
    retry_min_s: float = 0.5
    retry_max_s: float = 30.0


@dataclass
class HistorianStats:
    received: int = 0
    kept: int = 0
    written: int = 0  # new rows
    duplicates: int = 0  # rows the store had already
    bad: int = 0
    dropped: int = 0  # cells and limits rows beyond max_pending_rows
    store_errors: int = 0
    broker_connects: int = 0
    pending: int = 0
    last_error: str = ""


class Historian:
    """``observer``, when given, sees every message as it arrives (before it is stored), on
    the subscriptions ``extra_topics`` too: the dashboard's live model rides on this."""

    def __init__(self, settings: HistorianSettings, store: Store,
                 observer: Callable[[str, bytes], None] | None = None,
                 extra_topics: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.store = store
        self.observer = observer
        self.extra_topics = extra_topics
        self.stats = HistorianStats()
        self.connected = asyncio.Event()
        self._pending: list[Row] = []
        self._wake = asyncio.Event()
        self._downsampler = Downsampler({"cells": settings.cells_every_s,
                                         "limits": settings.limits_every_s})
        # one thread for every store call, in order: a call whose awaiting task was
        # cancelled (at the stop) still finishes before the next begins, never beside it
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="historian-store")

    async def _in_store(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._store_thread, call,
                                                                *args)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; then whatever waits is written once more (a last try)."""
        tasks = [asyncio.create_task(self._subscribe(stop)),
                 asyncio.create_task(self._write(stop))]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):  # the database away: they are lost (logged)
                while self._pending:
                    await self._in_store(self._flush_once)
            if self._pending:
                log.warning("historian: %d rows not written at the stop", len(self._pending))
            await self._in_store(self.store.close)
            self._store_thread.shutdown()

    # --- the subscription -----------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        password = os.environ.get(s.password_env) if s.username else None
        tls = tls_of(s.tls_ca_file)
        return aiomqtt.Client(s.host, s.port, username=s.username or None, password=password,
                              identifier=s.client_id, clean_session=False, tls_params=tls,
                              keepalive=30, timeout=10)

    async def _subscribe(self, stop: asyncio.Event) -> None:
        backoff = Backoff(self.settings.retry_min_s, self.settings.retry_max_s)
        while not stop.is_set():
            was_up = False
            try:
                async with self._client() as client:
                    for topic in (f"{self.settings.prefix}/+/+", *self.extra_topics):
                        await client.subscribe(topic, qos=1)
                    self.stats.broker_connects += 1
                    self.connected.set()
                    was_up = True
                    async for message in client.messages:
                        self.on_message(str(message.topic), bytes(message.payload or b""))
            except Exception as exc:  # the broker away, refusing, or anything unexpected:
                self.stats.last_error = f"broker: {type(exc).__name__}: {exc}"
                log.warning("historian: broker: %s", exc)  # the session goes on at the next
            self.connected.clear()
            await _pause(stop, backoff.next_s(was_up))

    def on_message(self, topic: str, payload: bytes) -> None:
        self.stats.received += 1
        if self.observer is not None:
            try:
                self.observer(topic, payload)
            except Exception:  # the observer's fault: the subscription and the rows go on
                log.exception("historian: the observer failed on %s", topic)
        try:
            row = to_row(topic, payload, self.settings.prefix)
        except BadMessageError as exc:
            self.stats.bad += 1
            log.warning("historian: %s", exc)
            return
        if row is None or not self._downsampler.keep(row):
            return
        if len(self._pending) >= self.settings.max_pending_rows and \
                row.table in ("cells", "limits"):
            self.stats.dropped += 1
            return
        self.stats.kept += 1
        self._pending.append(row)
        self.stats.pending = len(self._pending)
        if len(self._pending) >= self.settings.batch_rows:
            self._wake.set()

    # --- the store ------------------------------------------------------------------------

    def _flush_once(self) -> None:
        """Write what waits (up to a batch); on failure it stays, in order."""
        batch = self._pending[:self.settings.batch_rows]
        if not batch:
            return
        added = self.store.write(batch)
        del self._pending[:len(batch)]
        self.stats.pending = len(self._pending)
        self.stats.written += added
        self.stats.duplicates += len(batch) - added

    async def _write(self, stop: asyncio.Event) -> None:
        s = self.settings
        backoff = Backoff(s.retry_min_s, s.retry_max_s)
        was_up = True
        next_retention_s = 0.0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(s.flush_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while self._pending:
                    await self._in_store(self._flush_once)
                if time.monotonic() >= next_retention_s:
                    await self._in_store(self.store.drop_older_than, s.retention_days,
                                            time.time())
                    next_retention_s = time.monotonic() + 3600.0
                was_up = True
            except Exception as exc:  # the database away or refusing: keep the rows, wait
                self.stats.store_errors += 1
                self.stats.last_error = f"{self.store.kind}: {exc}"
                delay = backoff.next_s(was_up)
                was_up = False
                log.warning("historian: %s: %s; %d rows wait; again in %.1f s",
                            self.store.kind, exc, len(self._pending), delay)
                await _pause(stop, delay)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """``seconds``, or less once ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
