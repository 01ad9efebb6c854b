"""The dashboard's live model: the newest of each topic, events once by id."""

from __future__ import annotations

from master.telemetry.payloads import pack_bytes
from web.model import MAX_EVENTS, SiteModel


def test_the_newest_state_is_kept_and_an_older_resend_is_not_pushed() -> None:
    model = SiteModel("bms")
    assert model.apply("bms/p1/state", pack_bytes({"t": 10.0, "soc_pct": 50.0})) is not None
    assert model.apply("bms/p1/state", pack_bytes({"t": 9.0, "soc_pct": 40.0})) is None
    assert model.apply("bms/p1/state", pack_bytes({"t": 10.0, "soc_pct": 40.0})) is None
    update = model.apply("bms/p1/state", pack_bytes({"t": 11.0, "soc_pct": 51.0}))
    assert update is not None
    assert update.data["soc_pct"] == 51.0
    assert model.snapshot()[0]["state"]["soc_pct"] == 51.0


def test_events_are_kept_once_by_id_and_bounded() -> None:
    model = SiteModel()
    for i in range(MAX_EVENTS + 5):
        assert model.apply("bms/p/events", pack_bytes({"t": 1.0, "id": i})) is not None
    assert model.apply("bms/p/events", pack_bytes({"t": 1.0, "id": MAX_EVENTS + 4})) is None
    events = model.snapshot()[0]["events"]
    assert len(events) == MAX_EVENTS
    assert events[0]["id"] == 5


def test_the_will_is_applied_although_its_time_is_zero() -> None:
    model = SiteModel()
    model.apply("bms/p/online", pack_bytes({"t": 100.0, "online": True}))
    update = model.apply("bms/p/online", pack_bytes({"t": 0.0, "online": False}))
    assert update is not None
    assert model.packs["p"].latest["online"]["online"] is False


def test_what_is_no_telemetry_is_counted_and_changes_nothing() -> None:
    model = SiteModel()
    for topic, payload in (("bms/p/state", b"\xc1"), ("bms/p/state", pack_bytes({"x": 1})),
                           ("bms/p/cells", pack_bytes({"t": "late"}))):
        assert model.apply(topic, payload) is None
    assert model.bad_messages == 3
    assert model.apply("other/p/state", pack_bytes({"t": 1.0})) is None
    assert model.apply("bms/p/command", pack_bytes({"t": 1.0})) is None
    assert model.apply("bms/p/events", pack_bytes({"t": 1.0, "id": "x"})) is None


def test_values_json_cannot_carry_are_cleaned() -> None:
    model = SiteModel()
    update = model.apply("bms/p/cells", pack_bytes({"t": 1.0, "v": [float("nan"), 1.5],
                                                    "raw": b"\x01\x02", 3: float("inf")}))
    assert update is not None
    assert update.data["v"] == [None, 1.5]
    assert update.data["raw"] == "0102"
    assert update.data["3"] is None


def test_command_results_are_pushed() -> None:
    model = SiteModel()
    update = model.apply("bms/p/command/result",
                         pack_bytes({"t": 1.0, "id": "web-1", "accepted": True}))
    assert update is not None
    assert update.kind == "result"
    assert "bms/+/command/result" in model.subscriptions()


def test_events_from_the_history_seed_the_model_once() -> None:
    model = SiteModel()
    model.seed_events("p", [{"t": 1.0, "id": 1}, {"t": 2.0, "id": 2}])
    assert model.apply("bms/p/events", pack_bytes({"t": 2.0, "id": 2})) is None  # a resend
    assert model.apply("bms/p/events", pack_bytes({"t": 3.0, "id": 3})) is not None
    assert [e["id"] for e in model.snapshot()[0]["events"]] == [1, 2, 3]
