"""The master's store behind a bounded queue, written by a thread of its own: the control
loop hands over events and snapshots and never waits on the disk.

A write that fails (disk full, locked) is retried with the same data until it succeeds or
the writer is closed; nothing is dropped unless the queue itself is full (then it is
counted and logged). Each committed event is logged with its id.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from master.events import (
    ContactorEvent,
    DiagnosisEvent,
    EstimationEvent,
    MasterEvent,
    NoticeEvent,
    StateEvent,
)
from master.store import Store, StoredEvent

log = logging.getLogger(__name__)
QUEUE_CAPACITY = 10_000
RETRY_S = 1.0
_CLOSE = object()


def stored(event: MasterEvent, wall_time: float, freeze: dict[str, Any] | None) -> StoredEvent:
    """What the store keeps of a master event (diagnosis events with the freeze frame; the
    estimator's corrections with their old and new values in its place)."""
    if isinstance(event, DiagnosisEvent):
        return StoredEvent(wall_time, event.time_s, "diagnosis", event.describe(),
                           entry=event.entry.name.lower(), change=event.change.value,
                           severity=event.severity.name.lower(),
                           module=event.location.module, element=event.location.element,
                           freeze=freeze)
    if isinstance(event, EstimationEvent):
        return StoredEvent(wall_time, event.time_s, "estimation", event.describe(),
                           entry=event.entry, severity="info",
                           freeze={"old": event.old, "new": event.new, "unit": event.unit})
    kind = {StateEvent: "state", ContactorEvent: "contactor", NoticeEvent: "notice"}
    return StoredEvent(wall_time, event.time_s, kind[type(event)], event.describe())


@dataclass
class WriterStatistics:
    committed: int = 0
    snapshots: int = 0
    dropped: int = 0
    failures: int = 0
    last_id: int = 0
    messages: int = 0  # MQTT messages put into the outbox
    pending: list[StoredEvent] = field(default_factory=list)
    pending_messages: list[tuple[str, bytes]] = field(default_factory=list)


class StoreWriter:
    def __init__(self, store: Store, capacity: int = QUEUE_CAPACITY,
                 outbox: Callable[[StoredEvent], tuple[str, bytes]] | None = None,
                 on_commit: Callable[[], None] | None = None,
                 keep_per_topic: int = 0) -> None:
        """``outbox``: the MQTT message of each event, written with it; ``on_commit`` is
        called after every committed write (the publisher wakes up)."""
        self.store = store
        self.outbox = outbox
        self.on_commit = on_commit
        self.keep_per_topic = keep_per_topic
        self.statistics = WriterStatistics()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._close_deadline_s = float("inf")
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def events(self, events: list[StoredEvent]) -> None:
        if events:
            self._put(("events", events), len(events))

    def snapshot(self, values: dict[str, Any]) -> None:
        self._put(("state", values), 0)

    def publish(self, topic: str, payload: bytes) -> None:
        """A message for the broker that must not be lost (through the outbox)."""
        self._put(("outbox", (topic, payload)), 0)

    def _put(self, item: Any, count: int) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.statistics.dropped += count
            log.error("store queue full: %d events not stored", count)

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (retrying until ``timeout_s`` has passed), then stop; returns
        within ``timeout_s`` whatever the disk does."""
        deadline = time.monotonic() + timeout_s
        self._close_deadline_s = deadline - RETRY_S / 2  # a retry never runs past it
        try:
            self._queue.put(_CLOSE, timeout=max(0.0, deadline - time.monotonic()))
        except queue.Full:
            log.error("store queue full at shutdown")
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.error("store writer did not finish within %.1f s", timeout_s)

    def waiting(self) -> tuple[int, int]:
        """(events, MQTT messages) not stored yet: retried, or still queued."""
        queued = sum(len(item[1]) for item in list(self._queue.queue)
                     if item is not _CLOSE and item[0] == "events")
        return (len(self.statistics.pending) + queued + self.statistics.dropped,
                len(self.statistics.pending_messages))

    def _run(self) -> None:
        closing = False
        while True:
            item = self._queue.get()
            if item is _CLOSE:
                closing = True
                items = []
            else:
                items = [item]
            while True:  # everything queued meanwhile goes into the same transaction
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _CLOSE:
                    closing = True
                else:
                    items.append(more)
            self._write(items)
            if closing:
                self.store.close()
                return

    def _write(self, items: list[Any]) -> None:
        events = self.statistics.pending + [e for kind, batch in items if kind == "events"
                                            for e in batch]
        states: dict[str, Any] = {}
        messages = self.statistics.pending_messages + [
            message for kind, message in items if kind == "outbox"]
        for kind, values in items:
            if kind == "state":
                states.update(values)
        while True:
            deadline = self._close_deadline_s  # inf until `close` sets it
            try:
                if events:
                    ids = self.store.append(events, self.outbox)
                    for event_id, event in zip(ids, events, strict=True):
                        log.debug("event #%d committed: %s", event_id, event.text)
                    self.statistics.committed += len(ids)
                    self.statistics.last_id = ids[-1]
                    events = []
                if states:
                    self.store.save_state(states)
                    self.statistics.snapshots += 1
                    states = {}
                if messages:
                    self.store.enqueue(messages, self.keep_per_topic)
                    self.statistics.messages += len(messages)
                    messages = []
                self.statistics.pending = []
                self.statistics.pending_messages = []
                if self.on_commit is not None:
                    self.on_commit()
                return
            except Exception as exc:  # the store must never take the master down
                self.statistics.failures += 1
                self.statistics.pending = events
                self.statistics.pending_messages = messages
                log.error("store write failed (%s): %d events, %d messages and %d state keys "
                          "wait; retrying in %.0f s (failure %d)", exc, len(events),
                          len(messages), len(states), RETRY_S, self.statistics.failures)
                if time.monotonic() >= deadline:
                    log.error("store: %d events not stored at shutdown", len(events))
                    return
                time.sleep(min(RETRY_S, max(0.0, deadline - time.monotonic())))
