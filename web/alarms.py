"""The alarms of `bms web`: which diagnosis events and offline packs are told, on which
route, how often and in what words (docs/alarms.md). Pure: fed each pack's event and online
messages with the time, it returns the notifications to send; `web/notifier.py` sends them.

Times: ``now_s`` is Unix time, the clock of the payloads' ``t``. What a message says happened
when (set, cleared, "since") is the master's ``t``; the rate limit and the offline grace run
on ``now_s``, when the dashboard hears it (a will's ``t`` is the time its master connected).

The rate limit, per route, pack, entry and place: a set is told at once unless a set was
told less than ``min_interval_s`` ago; such a repeat is held back and counted, and the
count goes into the next set told, or into a summary that `due` returns once the interval
has passed. A clear is told (with ``clears``) when its set was told; the clear of a held set
is not told on its own but goes into the summary ("cleared at ... after ..."): a clear
alone would announce a set nobody heard of. A clear whose set was never heard (the
dashboard started after it) is not told either.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bms.web_settings import AlarmRoute

OFFLINE_GRACE_S = 60.0
MAX_SEEN_EVENT_IDS = 10_000  # per pack: the outbox resends recent events, not old ones
OFFLINE = "offline"
SET = "set"
CLEARS = ("cleared", "reset")  # reset: a latched entry cleared by a service reset
CONTACTOR_NAMES = ("main_plus", "main_minus", "precharge")  # master/diagnosis/supervision.py
_VALUE = re.compile(r" value (\S+?)(?:, limit (\S+))?$")  # DiagnosisEvent.describe


@dataclass(frozen=True)
class Notification:
    """One message for the URLs of one route."""

    urls: tuple[str, ...]
    title: str
    body: str
    severity: str  # the entry's: fatal, warning
    key: str  # pack/entry/place: what the rate limit counts
    cleared: bool = False  # it says that the alarm is over


@dataclass(frozen=True)
class Quantity:
    """What an entry's value and limit measure, and where it applies."""

    unit: str = ""
    element: str = "#"  # what the element index of a location counts
    place: str = "pack"  # what a pack-wide location is called


CELL_MV = Quantity("mV", "cell")
SENSOR_DEGC = Quantity("degC", "temperature sensor")
# the first rule whose prefix starts the entry's name (master/diagnosis/table.py, checks.py)
QUANTITIES: tuple[tuple[str, Quantity], ...] = (
    ("cell_voltage_spread", Quantity("mV")),
    ("cell_", CELL_MV),
    ("deep_discharge", CELL_MV),
    ("temperature_spread", Quantity("degC")),
    ("discharge_overcurrent", Quantity("A")),
    ("charge_overcurrent", Quantity("A")),
    ("discharge_", SENSOR_DEGC),
    ("charge_", SENSOR_DEGC),
    ("pack_voltage", Quantity("V")),
    ("current_sensor_", Quantity(place="current sensor")),
    ("measurement_invalid", Quantity(element="cell or temperature sensor")),
    ("slave_", Quantity()),
    ("contactor_feedback", Quantity(place="contactor box")),
    ("contactor_", Quantity(element="contactor")),
    ("fuse_", Quantity(place="fuse")),
    ("precharge_", Quantity(place="precharge circuit")),
    ("pack_bus_", Quantity(place="pack bus")),
    ("vcu_", Quantity(place="VCU")),
    ("charger_", Quantity(place="charger")),
    ("inverter_", Quantity(place="inverter")),
)


def quantity_of(entry: str) -> Quantity | None:
    return next((q for prefix, q in QUANTITIES if entry.startswith(prefix)), None)


def place_of(entry: str, module: int | None, element: int | None) -> str:
    """``module 2 cell 5``, ``module 0 temperature sensor 3``, ``current sensor``, ...
    (numbered from 0, as everywhere in the BMS)."""
    quantity = quantity_of(entry) or Quantity()
    if element is None:
        return quantity.place if module is None else f"module {module}"
    if quantity.element == "contactor" and 0 <= element < len(CONTACTOR_NAMES):
        where = f"{CONTACTOR_NAMES[element]} contactor"
    else:
        where = f"{quantity.element} {element}"
    return where if module is None else f"module {module} {where}"


def detail_of(entry: str, text: str) -> str:
    """The value against its limit, with the entry's unit, from the event's text."""
    match = _VALUE.search(text)
    if match is None:
        return ""
    unit = (quantity_of(entry) or Quantity()).unit
    value, limit = (_amount(group, unit) for group in match.groups())
    if value is None:
        return ""
    return f"{value} against a limit of {limit}" if limit else f"value {value}"


def _amount(text: str | None, unit: str) -> str | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    if value is None:
        return None
    return f"{value:g} {unit}" if unit else f"{value:g}"


def duration_text(seconds: float) -> str:
    """``20 s``, ``3 min 20 s``, ``2 h 5 min``, ``1 d 3 h``."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return _two(s // 60, "min", s % 60, "s")
    if s < 86_400:
        return _two(s // 3600, "h", s % 3600 // 60, "min")
    return _two(s // 86_400, "d", s % 86_400 // 3600, "h")


def _two(whole: int, unit: str, rest: int, rest_unit: str) -> str:
    return f"{whole} {unit} {rest} {rest_unit}" if rest else f"{whole} {unit}"


@dataclass(frozen=True)
class Occurrence:
    """One set or clear of an entry at a place of a pack."""

    pack: str
    entry: str
    severity: str
    change: str
    module: int | None
    element: int | None
    t: float  # the master's Unix time
    detail: str  # the value against its limit, or ""

    @property
    def place(self) -> str:
        return place_of(self.entry, self.module, self.element)

    @property
    def where(self) -> str:
        place = self.place
        return f"Pack {self.pack}" + ("" if place == "pack" else f", {place}")

    @property
    def key(self) -> str:
        return f"{self.pack}/{self.entry}/{self.place}"

    @property
    def verb(self) -> str:
        return "since" if self.entry == OFFLINE else "set at"

    def title(self, suffix: str = "") -> str:
        place = self.place
        at = "" if place == "pack" else f" at {place}"
        return f"{self.pack}: {self.entry} ({self.severity}){at}{suffix}"


def occurrence_of(pack: str, event: dict[str, Any]) -> Occurrence | None:
    """A diagnosis event's set or clear; None for anything else or a malformed one."""
    entry, change, severity = event.get("entry"), event.get("change"), event.get("severity")
    module, element, t = event.get("module"), event.get("element"), event.get("t")
    if event.get("kind") != "diagnosis" or not isinstance(entry, str) \
            or not isinstance(severity, str) or change not in (SET, *CLEARS) \
            or not isinstance(t, int | float) or not _index(module) or not _index(element):
        return None
    text = event.get("text")
    detail = detail_of(entry, text) if isinstance(text, str) else ""
    return Occurrence(pack, entry, severity, change, module, element, float(t), detail)


def _index(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


@dataclass
class _Track:
    """The rate limit's memory of one (route, pack, entry, place)."""

    active: bool = False
    set_t: float = 0.0  # the master's time of the current set
    told: bool = False  # the current set was told (so its clear will be)
    told_at_s: float = -math.inf  # when a set was last told (now_s)
    held: int = 0  # sets held back since
    held_since_t: float = 0.0
    last_set: Occurrence | None = None  # the latest held set
    last_clear: Occurrence | None = None  # and its clear


class AlarmRouter:
    """Diagnosis events and online messages in, notifications out (module docstring)."""

    def __init__(self, routes: tuple[AlarmRoute, ...],
                 offline_grace_s: float = OFFLINE_GRACE_S, tz: tzinfo | None = None) -> None:
        """``offline_grace_s``: a pack offline this long is an alarm (warning); ``tz``:
        the clock times of the messages (None: local time)."""
        self.routes = routes
        self.offline_grace_s = offline_grace_s
        self.tz = tz
        self.duplicates = 0  # events heard again (the outbox resends)
        self.ignored = 0  # diagnosis events without the fields of a set or clear
        self._tracks: dict[tuple[int, str, str, int | None, int | None], _Track] = {}
        self._seen_ids: dict[str, dict[int, None]] = {}  # per pack, insertion-ordered
        self._offline_since_s: dict[str, float] = {}
        self._offline_raised: set[str] = set()

    def on_event(self, pack: str, event: dict[str, Any], now_s: float) -> list[Notification]:
        """A message of ``<prefix>/<pack>/events`` (unpacked)."""
        if event.get("kind") != "diagnosis":
            return []
        event_id = event.get("id")
        if isinstance(event_id, int) and not self._first_time(pack, event_id):
            self.duplicates += 1
            return []
        occurrence = occurrence_of(pack, event)
        if occurrence is None:
            self.ignored += 1
            return []
        return self._route(occurrence, now_s)

    def on_online(self, pack: str, online: bool, now_s: float) -> list[Notification]:
        """A message of ``<prefix>/<pack>/online``: offline starts the grace; back online
        clears the alarm (told if it was raised)."""
        if not online:
            self._offline_since_s.setdefault(pack, now_s)
            return []
        since_s = self._offline_since_s.pop(pack, None)
        if since_s is None or pack not in self._offline_raised:
            return []
        self._offline_raised.discard(pack)
        return self._route(self._offline(pack, "cleared", now_s), now_s)

    def due(self, now_s: float) -> list[Notification]:
        """What has become due: offline alarms past their grace, summaries of held repeats
        past their interval. Call it every few seconds."""
        out: list[Notification] = []
        for pack, since_s in self._offline_since_s.items():
            if pack not in self._offline_raised and now_s - since_s >= self.offline_grace_s:
                self._offline_raised.add(pack)
                out += self._route(self._offline(pack, SET, since_s), now_s)
        for key, track in list(self._tracks.items()):
            route = self.routes[key[0]]
            if now_s - track.told_at_s < route.min_interval_s:
                continue
            if track.held:
                out.append(self._summary(route, track, now_s))
            elif not track.active:
                del self._tracks[key]  # nothing left that the rate limit needs
        return out

    # --- the rate limit -------------------------------------------------------------------

    def _route(self, occurrence: Occurrence, now_s: float) -> list[Notification]:
        out = []
        for index, route in enumerate(self.routes):
            if occurrence.severity not in route.severities:
                continue
            key = (index, occurrence.pack, occurrence.entry, occurrence.module,
                   occurrence.element)
            if occurrence.change == SET:
                message = self._set(route, self._tracks.setdefault(key, _Track()), occurrence,
                                    now_s)
            else:
                track = self._tracks.get(key)
                message = None if track is None else self._clear(route, track, occurrence)
            if message is not None:
                out.append(message)
        return out

    def _set(self, route: AlarmRoute, track: _Track, occurrence: Occurrence,
             now_s: float) -> Notification | None:
        track.active, track.set_t = True, occurrence.t
        if now_s - track.told_at_s < route.min_interval_s:
            if not track.held:
                track.held_since_t = occurrence.t
            track.held += 1
            track.told, track.last_set, track.last_clear = False, occurrence, None
            return None
        more = f" (and {_more(track.held)} since {self._minute(track.held_since_t)})" \
            if track.held else ""
        track.told, track.told_at_s, track.held = True, now_s, 0
        body = (f"{occurrence.where}: {occurrence.entry} ({occurrence.severity}) "
                f"{occurrence.verb} {self._clock(occurrence.t)}{more}{_comma(occurrence.detail)}.")
        return _notification(route, occurrence, occurrence.title(), body)

    def _clear(self, route: AlarmRoute, track: _Track,
               occurrence: Occurrence) -> Notification | None:
        if not track.active:
            return None  # a second clear, or the clear of a set before the dashboard started
        told, track.active, track.told = track.told, False, False
        if not told:
            track.last_clear = occurrence  # the held set's clear: told in the summary
            return None
        if not route.clears:
            return None
        body = (f"{occurrence.where}: {occurrence.entry} ({occurrence.severity}) "
                f"{self._ended(occurrence, track.set_t)}{_comma(occurrence.detail)}.")
        return _notification(route, occurrence, occurrence.title(f", {occurrence.change}"),
                             body, cleared=True)

    def _summary(self, route: AlarmRoute, track: _Track, now_s: float) -> Notification:
        last = track.last_set
        assert last is not None  # held sets have one
        clear = track.last_clear
        end = "still set" if track.active or clear is None else self._ended(clear, last.t)
        body = (f"{last.where}: {last.entry} ({last.severity}) set {_more(track.held)} since "
                f"{self._minute(track.held_since_t)}, the last at {self._clock(last.t)}"
                f"{_comma(last.detail)}; {end}.")
        track.told, track.told_at_s, track.held = track.active, now_s, 0
        return _notification(route, last, last.title(", repeated"), body,
                             cleared=not track.active)

    # --- words ----------------------------------------------------------------------------

    def _offline(self, pack: str, change: str, t: float) -> Occurrence:
        detail = "" if change != SET else \
            f"its online topic false for {duration_text(self.offline_grace_s)}"
        return Occurrence(pack, OFFLINE, "warning", change, None, None, t, detail)

    def _ended(self, clear: Occurrence, set_t: float) -> str:
        return (f"{clear.change} at {self._clock(clear.t)} after "
                f"{duration_text(clear.t - set_t)}")

    def _clock(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).strftime("%H:%M:%S")

    def _minute(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).strftime("%H:%M")

    def _first_time(self, pack: str, event_id: int) -> bool:
        seen = self._seen_ids.setdefault(pack, {})
        if event_id in seen:
            return False
        seen[event_id] = None
        if len(seen) > MAX_SEEN_EVENT_IDS:
            del seen[next(iter(seen))]
        return True


def _more(count: int) -> str:
    return "once more" if count == 1 else f"{count} more times"


def _comma(detail: str) -> str:
    return f", {detail}" if detail else ""


def _notification(route: AlarmRoute, occurrence: Occurrence, title: str, body: str,
                  cleared: bool = False) -> Notification:
    return Notification(route.urls, title, body, occurrence.severity, occurrence.key, cleared)
