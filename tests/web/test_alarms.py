"""The alarm router: what is told, to which route, how often and in what words. Events are
built as the master publishes them (DiagnosisEvent -> the store's row -> the MQTT payload),
so the router reads the real text."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC
from typing import Any

import pytest

from bms.web_settings import AlarmRoute
from master.diagnosis.supervision import CONTACTOR_NAMES as MASTER_CONTACTOR_NAMES
from master.diagnosis.table import DEFAULT_TABLE, DiagId
from master.events import PACK, DiagnosisChange, DiagnosisEvent, Location
from master.store_writer import stored
from master.telemetry.payloads import event_payload, unpack
from web.alarms import CONTACTOR_NAMES, AlarmRouter, Notification, duration_text, quantity_of

T = 1_700_000_000.0  # 22:13:20 UTC
FATAL_URL, WARNING_URL = "json://127.0.0.1:9/fatal", "json://127.0.0.1:9/warning"
CELL = Location(2, 5)
SET, CLEARED = DiagnosisChange.SET, DiagnosisChange.CLEARED
_ids = itertools.count(1)


def event(entry: DiagId, change: DiagnosisChange, t: float, location: Location = CELL,
          value: float | None = None, limit: float | None = None,
          event_id: int | None = None) -> dict[str, Any]:
    """The event as `bms web` receives it from ``<prefix>/<pack>/events``."""
    diagnosis = DiagnosisEvent(t, entry, change, DEFAULT_TABLE[entry].severity, location,
                               value, limit)
    row = replace(stored(diagnosis, t, None), id=next(_ids) if event_id is None else event_id)
    return unpack(event_payload(row))


def overvoltage(change: DiagnosisChange, t: float, value: float = 4250) -> dict[str, Any]:
    return event(DiagId.CELL_OVERVOLTAGE_MSL, change, t, CELL, value, 4200)


def router(min_interval_s: float = 300.0, clears: bool = True) -> AlarmRouter:
    route = AlarmRoute(urls=(FATAL_URL,), min_interval_s=min_interval_s, clears=clears)
    return AlarmRouter((route,), offline_grace_s=60.0, tz=UTC)


def one(notifications: list[Notification]) -> Notification:
    assert len(notifications) == 1, notifications
    return notifications[0]


def test_the_first_set_is_told_at_once() -> None:
    told = one(router().on_event("garage-1", overvoltage(SET, T), T))
    assert told.urls == (FATAL_URL,)
    assert told.severity == "fatal"
    assert not told.cleared
    assert told.title == "garage-1: cell_overvoltage_msl (fatal) at module 2 cell 5"
    assert told.body == ("Pack garage-1, module 2 cell 5: cell_overvoltage_msl (fatal) set at "
                         "22:13:20, 4250 mV against a limit of 4200 mV.")
    assert told.key == "garage-1/cell_overvoltage_msl/module 2 cell 5"


def test_the_clear_is_told_with_how_long_it_lasted() -> None:
    alarms = router()
    alarms.on_event("garage-1", overvoltage(SET, T), T)
    told = one(alarms.on_event("garage-1", overvoltage(CLEARED, T + 200, 4190), T + 200))
    assert told.cleared
    assert "cleared at 22:16:40 after 3 min 20 s" in told.body
    assert "4190 mV against a limit of 4200 mV" in told.body


def test_without_clears_a_clear_is_not_told() -> None:
    alarms = router(clears=False)
    alarms.on_event("garage-1", overvoltage(SET, T), T)
    assert alarms.on_event("garage-1", overvoltage(CLEARED, T + 5), T + 5) == []


def flap(alarms: AlarmRouter, times: int, start: float) -> None:
    """Set and cleared ``times`` times, 10 s apart, all within the interval."""
    for k in range(times):
        assert alarms.on_event("garage-1", overvoltage(SET, start + 10 * k, 4251),
                               start + 10 * k) == []
        assert alarms.on_event("garage-1", overvoltage(CLEARED, start + 10 * k + 5),
                               start + 10 * k + 5) == []


def test_repeats_within_the_interval_are_held_and_counted_in_the_next_set() -> None:
    alarms = router()
    alarms.on_event("garage-1", overvoltage(SET, T), T)
    alarms.on_event("garage-1", overvoltage(CLEARED, T + 5), T + 5)
    flap(alarms, 4, T + 100)  # their clears are not told: nobody heard of their sets
    told = one(alarms.on_event("garage-1", overvoltage(SET, T + 300), T + 300))
    assert "set at 22:18:20 (and 4 more times since 22:15)" in told.body


def test_a_single_repeat_is_once_more() -> None:
    alarms = router()
    alarms.on_event("garage-1", overvoltage(SET, T), T)
    alarms.on_event("garage-1", overvoltage(CLEARED, T + 5), T + 5)
    flap(alarms, 1, T + 100)
    told = one(alarms.on_event("garage-1", overvoltage(SET, T + 300), T + 300))
    assert "set at 22:18:20 (and once more since 22:15)" in told.body


def test_held_repeats_are_summarised_once_the_interval_has_passed() -> None:
    alarms = router()
    alarms.on_event("garage-1", overvoltage(SET, T), T)
    alarms.on_event("garage-1", overvoltage(CLEARED, T + 5), T + 5)
    flap(alarms, 4, T + 100)
    assert alarms.due(T + 299) == []
    told = one(alarms.due(T + 300))
    assert told.title.endswith(", repeated")
    assert told.cleared
    assert ("set 4 more times since 22:15, the last at 22:15:30, 4251 mV against a limit of "
            "4200 mV; cleared at 22:15:35 after 5 s.") in told.body
    assert alarms.due(T + 900) == []  # told once


def test_a_summary_of_a_set_still_active_lets_its_clear_be_told() -> None:
    alarms = router()
    alarms.on_event("garage-1", overvoltage(SET, T), T)
    alarms.on_event("garage-1", overvoltage(CLEARED, T + 5), T + 5)
    alarms.on_event("garage-1", overvoltage(SET, T + 100), T + 100)  # held
    told = one(alarms.due(T + 300))
    assert "set once more since 22:15, the last at 22:15:00" in told.body
    assert told.body.endswith("; still set.")
    cleared = one(alarms.on_event("garage-1", overvoltage(CLEARED, T + 400), T + 400))
    assert "cleared at 22:20:00 after 5 min" in cleared.body


def test_a_clear_whose_set_was_never_heard_is_not_told() -> None:
    alarms = router()  # the dashboard started after the set
    assert alarms.on_event("garage-1", overvoltage(CLEARED, T), T) == []
    assert alarms.due(T + 3600) == []


def test_the_rate_limit_is_per_place() -> None:
    alarms = router()
    alarms.on_event("garage-1", overvoltage(SET, T), T)
    other_cell = event(DiagId.CELL_OVERVOLTAGE_MSL, SET, T + 1, Location(2, 6), 4260, 4200)
    assert "module 2 cell 6" in one(alarms.on_event("garage-1", other_cell, T + 1)).title
    assert "garage-2" in one(alarms.on_event("garage-2", overvoltage(SET, T + 2), T + 2)).title


def test_an_event_sent_again_is_told_once() -> None:
    alarms = router(min_interval_s=0.0)
    message = overvoltage(SET, T)
    assert len(alarms.on_event("garage-1", message, T)) == 1
    assert alarms.on_event("garage-1", message, T + 1) == []
    assert alarms.duplicates == 1
    assert len(alarms.on_event("garage-2", message, T + 1)) == 1  # ids are per pack


@pytest.mark.parametrize("kind", ["state", "contactor", "notice"])
def test_other_events_are_no_alarms(kind: str) -> None:
    message = {"v": 1, "id": 7, "t": T, "kind": kind, "entry": None, "change": None,
               "severity": None, "module": None, "element": None, "text": "state A -> B"}
    alarms = router(min_interval_s=0.0)
    assert alarms.on_event("garage-1", message, T) == []
    assert (alarms.duplicates, alarms.ignored) == (0, 0)


def test_a_malformed_diagnosis_event_is_counted() -> None:
    alarms = router()
    assert alarms.on_event("garage-1", {"kind": "diagnosis", "entry": 5}, T) == []
    assert alarms.ignored == 1


def test_each_severity_goes_to_its_routes() -> None:
    routes = (AlarmRoute(severities=("fatal",), urls=(FATAL_URL,)),
              AlarmRoute(severities=("warning",), urls=(WARNING_URL,)),
              AlarmRoute(urls=("mailto://u:p@127.0.0.1", FATAL_URL)))
    alarms = AlarmRouter(routes, tz=UTC)
    fatal = alarms.on_event("garage-1", overvoltage(SET, T), T)
    assert [n.urls for n in fatal] == [(FATAL_URL,), ("mailto://u:p@127.0.0.1", FATAL_URL)]
    warning = event(DiagId.CELL_OVERVOLTAGE_RSL, SET, T, CELL, 4230, 4220)
    assert [n.urls for n in alarms.on_event("garage-1", warning, T)] == [
        (WARNING_URL,), ("mailto://u:p@127.0.0.1", FATAL_URL)]
    info = event(DiagId.CELL_OVERVOLTAGE_MOL, SET, T, CELL, 4210, 4200)
    assert alarms.on_event("garage-1", info, T) == []


def test_a_pack_offline_beyond_the_grace_is_a_warning_until_it_returns() -> None:
    routes = (AlarmRoute(severities=("fatal",), urls=(FATAL_URL,)),
              AlarmRoute(severities=("warning",), urls=(WARNING_URL,)))
    alarms = AlarmRouter(routes, offline_grace_s=60.0, tz=UTC)
    assert alarms.on_online("garage-1", False, T) == []
    assert alarms.on_online("garage-1", False, T + 30) == []  # still the same outage
    assert alarms.due(T + 59) == []
    told = one(alarms.due(T + 60))
    assert (told.urls, told.severity, told.cleared) == ((WARNING_URL,), "warning", False)
    assert told.title == "garage-1: offline (warning)"
    assert "offline (warning) since 22:13:20, its online topic false for 1 min" in told.body
    assert alarms.due(T + 120) == []
    back = one(alarms.on_online("garage-1", True, T + 400))
    assert back.cleared
    assert "cleared at 22:20:00 after 6 min 40 s" in back.body


def test_a_pack_back_within_the_grace_is_no_alarm() -> None:
    alarms = router()
    alarms.on_online("garage-1", False, T)
    assert alarms.on_online("garage-1", True, T + 59) == []
    assert alarms.due(T + 600) == []
    assert alarms.on_online("garage-1", True, T + 601) == []  # online at start: nothing


MESSAGES = [  # entry, location, value, limit: the title's place, the body's detail
    (DiagId.CELL_OVERVOLTAGE_MSL, Location(2, 5), 4250, 4200, "at module 2 cell 5",
     "4250 mV against a limit of 4200 mV"),
    (DiagId.DEEP_DISCHARGE, Location(0, 11), 1890, 2000, "at module 0 cell 11",
     "1890 mV against a limit of 2000 mV"),
    (DiagId.DISCHARGE_OVERTEMPERATURE_MSL, Location(1, 3), 61.5, 60, "at module 1 "
     "temperature sensor 3", "61.5 degC against a limit of 60 degC"),
    (DiagId.CHARGE_UNDERTEMPERATURE_RSL, Location(4, 0), -2.5, 0, "at module 4 temperature "
     "sensor 0", "-2.5 degC against a limit of 0 degC"),
    (DiagId.CHARGE_OVERCURRENT_RSL, PACK, 105.25, 100, "(warning)",
     "105.25 A against a limit of 100 A"),
    (DiagId.CELL_VOLTAGE_SPREAD, PACK, 310, 300, "(warning)",
     "310 mV against a limit of 300 mV"),
    (DiagId.PACK_VOLTAGE_PLAUSIBILITY, PACK, 12.5, 10, "(fatal)",
     "12.5 V against a limit of 10 V"),
    (DiagId.CURRENT_SENSOR_LOST, PACK, None, None, "at current sensor", None),
    (DiagId.SLAVE_LOST, Location(3), None, None, "at module 3", None),
    (DiagId.SLAVE_AFE_FAULT, Location(3), 5, None, "at module 3", "value 5"),
    (DiagId.CONTACTOR_WELDED, Location(None, 0), None, None, "at main_plus contactor", None),
    (DiagId.CHARGER_LOST, PACK, None, None, "at charger", None),
]


@pytest.mark.parametrize(("entry", "location", "value", "limit", "place", "detail"), MESSAGES)
def test_messages_name_the_place_and_the_value_against_its_limit(
        entry: DiagId, location: Location, value: float | None, limit: float | None,
        place: str, detail: str | None) -> None:
    routes = (AlarmRoute(urls=(FATAL_URL,)),)
    told = one(AlarmRouter(routes, tz=UTC).on_event(
        "garage-1", event(entry, SET, T, location, value, limit), T))
    assert told.title.startswith(f"garage-1: {entry.name.lower()} (")
    assert told.title.endswith(place)
    assert told.body.startswith("Pack garage-1")
    if detail is None:
        assert told.body.endswith("set at 22:13:20.")
    else:
        assert told.body.endswith(f"set at 22:13:20, {detail}.")


def test_every_diagnosis_entry_has_its_quantity() -> None:
    assert [e.name for e in DiagId if quantity_of(e.name.lower()) is None] == []
    assert CONTACTOR_NAMES == MASTER_CONTACTOR_NAMES


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (59.4, "59 s"), (60, "1 min"), (200, "3 min 20 s"), (3600, "1 h"),
    (7500, "2 h 5 min"), (86_400 + 3 * 3600, "1 d 3 h"), (-5, "0 s")])
def test_durations(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
