"""The dashboard's history: resends stored once, old rows downsampled then dropped, charts
in buckets."""

from __future__ import annotations

from pathlib import Path

from historian.rows import Row, to_row
from master.telemetry.payloads import pack_bytes
from web.history import History

DAY_S = 86_400.0


def _state(t: float, soc: float, pack: str = "p") -> Row:
    row = to_row(f"bms/{pack}/state", pack_bytes({"t": t, "soc_pct": soc, "voltage_v": 50.0}))
    assert row is not None
    return row


def test_a_resend_is_stored_once(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    rows = [_state(1000.0 + i, 50.0) for i in range(10)]
    assert history.write(rows) == 10
    assert history.write(rows) == 0
    event = to_row("bms/p/events", pack_bytes({"t": 1.0, "id": 7, "kind": "diagnosis",
                                                "text": "x"}))
    assert event is not None
    assert history.write([event, event]) == 1
    assert history.events("p")[0]["id"] == 7
    history.close()


def test_old_rows_are_downsampled_then_dropped(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite", full_s=DAY_S, coarse_s=60.0)
    now = 100 * DAY_S
    recent = [_state(now - 600 + i, 50.0) for i in range(600)]  # 10 min at 1 Hz
    old = [_state(now - 2 * DAY_S + i, 50.0) for i in range(600)]  # 10 min, two days ago
    ancient = [_state(now - 40 * DAY_S + i, 50.0) for i in range(10)]
    history.write(recent + old + ancient)
    history.drop_older_than(30.0, now)
    assert history.counts()["state"] == 600 + 10  # the old ten minutes: one row a minute
    history.drop_older_than(30.0, now)  # again: nothing more goes
    assert history.counts()["state"] == 610
    history.close()


def test_series_come_in_at_most_the_buckets_asked_for(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    history.write([_state(1000.0 + i, float(i)) for i in range(1000)]
                  + [_state(1000.0, 99.0, pack="other")])
    series = history.series("p", 1000.0, 2000.0, max_points=10)
    assert len(series["state.t"]) == 10
    assert series["state.soc_pct"][0] == sum(range(100)) / 100  # the bucket's average
    assert series["state.soc_max_pct"] == [None] * 10  # no such values in these rows
    assert history.series("nobody", 0.0, 1.0)["state.t"] == []
    history.close()


def test_freeze_frames_are_kept_with_their_events(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    event = to_row("bms/p/events", pack_bytes({"t": 1.0, "id": 3, "kind": "diagnosis"}))
    assert event is not None
    history.note_freeze("p", 3, {"state": "NORMAL", "max_cell_mv": [4300, 1, 3]})
    history.write([event])
    later = History(tmp_path / "h.sqlite")  # as after a restart of the dashboard
    assert later.packs() == ["p"]
    assert later.events("p")[0]["freeze"] == {"state": "NORMAL", "max_cell_mv": [4300, 1, 3]}
    other = to_row("bms/p/events", pack_bytes({"t": 2.0, "id": 4, "kind": "state"}))
    assert other is not None
    later.write([other])
    assert [e["freeze"] for e in later.events("p")] == [None, {"state": "NORMAL",
                                                               "max_cell_mv": [4300, 1, 3]}]
    assert [e["id"] for e in later.events("p", before_id=4)] == [3]
    history.close()
    later.close()
