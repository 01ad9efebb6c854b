"""What the dashboard knows of each pack: the latest of each telemetry topic, the recent
events, the command results. Pure: ``apply`` takes one MQTT message (topic and msgpack
payload, master/telemetry/payloads.py) and returns the change to push to the browsers, or
None when nothing changed (another topic, an outbox resend, an older state)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from master.telemetry.payloads import unpack

KINDS = ("state", "cells", "limits", "events", "online")
RESULT = "command/result"
MAX_EVENTS = 200
MAX_RESULTS = 50
MAX_SEEN_EVENT_IDS = 10_000


@dataclass(frozen=True)
class Update:
    """A change to push: ``kind`` is a topic's last level (or ``result``)."""

    pack: str
    kind: str
    data: dict[str, Any]


@dataclass
class PackLive:
    name: str
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> payload
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    results: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RESULTS))
    _seen_ids: dict[int, None] = field(default_factory=dict)  # insertion-ordered, bounded

    def snapshot(self) -> dict[str, Any]:
        return {"pack": self.name, **{k: self.latest.get(k) for k in KINDS if k != "events"},
                "events": list(self.events), "results": list(self.results)}

    def event_is_new(self, event_id: int) -> bool:
        if event_id in self._seen_ids:
            return False
        self._seen_ids[event_id] = None
        if len(self._seen_ids) > MAX_SEEN_EVENT_IDS:
            del self._seen_ids[next(iter(self._seen_ids))]
        return True


def _clean(value: Any) -> Any:
    """msgpack values as JSON can carry them (NaN and infinities as None, bytes as hex)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


class SiteModel:
    """Every pack under ``<prefix>/``, as their messages arrive."""

    def __init__(self, prefix: str = "bms") -> None:
        self.prefix = prefix
        self.packs: dict[str, PackLive] = {}
        self.bad_messages = 0

    def subscriptions(self) -> list[str]:
        return [f"{self.prefix}/+/{kind}" for kind in KINDS] + [f"{self.prefix}/+/{RESULT}"]

    def pack(self, name: str) -> PackLive:
        if name not in self.packs:
            self.packs[name] = PackLive(name)
        return self.packs[name]

    def apply(self, topic: str, payload: bytes) -> Update | None:
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != self.prefix:
            return None
        name, kind = parts[1], "/".join(parts[2:])
        if kind not in KINDS and kind != RESULT:
            return None
        try:
            data = _clean(unpack(payload))
        except ValueError:
            self.bad_messages += 1
            return None
        t = data.get("t")
        if not isinstance(t, int | float) or isinstance(t, bool):
            self.bad_messages += 1
            return None
        pack = self.pack(name)
        if kind == RESULT:
            pack.results.append(data)
            return Update(name, "result", data)
        if kind == "events":
            if not isinstance(data.get("id"), int) or not pack.event_is_new(data["id"]):
                return None
            pack.events.append(data)
            return Update(name, kind, data)
        previous = pack.latest.get(kind)
        if previous is not None and kind != "online" and t <= previous["t"]:
            return None  # a resend from the outbox, or older: the view keeps the newest
        pack.latest[kind] = data
        return Update(name, kind, data)

    def seed_events(self, name: str, events: list[dict[str, Any]]) -> None:
        """Events from the history (oldest first), as if they had just arrived: the page
        has them after a restart of the dashboard."""
        pack = self.pack(name)
        for event in events:
            if isinstance(event.get("id"), int) and pack.event_is_new(event["id"]):
                pack.events.append(_clean(event))

    def snapshot(self) -> list[dict[str, Any]]:
        return [self.packs[name].snapshot() for name in sorted(self.packs)]
