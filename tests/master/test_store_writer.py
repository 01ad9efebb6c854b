"""The store writer: the control loop hands over, the thread commits, failures retry."""

import threading
import time
from pathlib import Path

import pytest

from dbc.frames import MasterState
from master.diagnosis.table import DiagId, Severity
from master.events import (
    PACK,
    DiagnosisChange,
    DiagnosisEvent,
    Location,
    NoticeEvent,
    StateEvent,
)
from master.store import Store, StoredEvent
from master.store_writer import StoreWriter, stored
from testbed.waiting import wait_until_sync


def test_master_events_become_rows_with_the_freeze_frame_on_diagnosis() -> None:
    diagnosis = DiagnosisEvent(3.5, DiagId.CELL_OVERVOLTAGE_MSL, DiagnosisChange.SET,
                               Severity.FATAL, Location(2, 7), 4301.0, 4250.0)
    row = stored(diagnosis, 1e9, {"state": "NORMAL"})
    assert (row.kind, row.entry, row.change, row.severity, row.module, row.element) == \
        ("diagnosis", "cell_overvoltage_msl", "set", "fatal", 2, 7)
    assert row.freeze == {"state": "NORMAL"}
    state = stored(StateEvent(4.0, MasterState.NORMAL, MasterState.ERROR, "fatal"), 1e9, None)
    assert (state.kind, state.freeze, state.module) == ("state", None, None)
    assert stored(NoticeEvent(5.0, "hello"), 1e9, None).text == "hello"
    assert stored(DiagnosisEvent(1.0, DiagId.VCU_LOST, DiagnosisChange.CLEARED,
                                 Severity.FATAL, PACK, None, None), 0, None).module is None


def test_queued_events_are_committed_and_close_flushes(tmp_path: Path) -> None:
    writer = StoreWriter(Store.open(tmp_path / "s.sqlite"))
    for n in range(50):
        writer.events([StoredEvent(float(n), float(n), "notice", f"n{n}")])
    writer.snapshot({"counters": {"charged_ah": 1.0}})
    writer.close()
    store = Store.open(tmp_path / "s.sqlite", read_only=True)
    assert [e.text for e in store.events()] == [f"n{n}" for n in range(50)]
    assert writer.statistics.committed == 50
    assert store.load_state("counters")[1] == {"charged_ah": 1.0}  # type: ignore[index]


def test_a_failed_write_is_retried_with_the_same_events(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    real_append = store.append
    calls = []

    def flaky(events, outbox=None):  # type: ignore[no-untyped-def]
        calls.append(len(events))
        if len(calls) == 1:
            raise OSError("disk full")
        return real_append(events, outbox)

    store.append = flaky  # type: ignore[method-assign]
    writer = StoreWriter(store)
    writer.events([StoredEvent(1.0, 1.0, "notice", "kept")])
    wait_until_sync(lambda: writer.statistics.committed == 1, 10.0, "the retry committed")
    writer.close()
    assert writer.statistics.failures == 1
    assert [e.text for e in Store.open(tmp_path / "s.sqlite", read_only=True).events()] == \
        ["kept"]


def test_a_full_queue_counts_what_it_drops(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    gate = threading.Event()
    real_append = store.append
    store.append = lambda events, outbox=None: (  # type: ignore[method-assign]
        gate.wait(10), real_append(events, outbox))[1]
    writer = StoreWriter(store, capacity=2)
    for n in range(10):
        writer.events([StoredEvent(float(n), float(n), "notice", f"n{n}")])
    assert writer.statistics.dropped > 0
    gate.set()
    writer.close()
    assert writer.statistics.committed + writer.statistics.dropped == 10


def test_events_and_messages_reach_the_outbox_and_wake_the_publisher(tmp_path: Path) -> None:
    woken = threading.Event()
    writer = StoreWriter(Store.open(tmp_path / "s.sqlite"),
                         outbox=lambda e: ("bms/p/events", f"#{e.id} {e.text}".encode()),
                         on_commit=woken.set)
    writer.events([StoredEvent(1.0, 1.0, "notice", "first")])
    writer.publish("bms/p/state", b"state")
    writer.close()
    assert woken.is_set()
    outbox = Store.open(tmp_path / "s.sqlite").outbox()
    assert [(topic, payload) for _, topic, payload in outbox] == [
        ("bms/p/events", b"#1 first"), ("bms/p/state", b"state")]
    assert writer.statistics.messages == 1


def test_a_store_that_cannot_write_closes_within_its_budget_and_counts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A store that could not write hung the master's shutdown 5 s: the launcher killed it
    and the pending events were lost without a count."""
    store = Store.open(tmp_path / "s.sqlite")

    def full(events, outbox=None):  # type: ignore[no-untyped-def]
        raise OSError("No space left on device")

    store.append = full  # type: ignore[method-assign]
    writer = StoreWriter(store)
    writer.events([StoredEvent(float(n), float(n), "notice", f"n{n}") for n in range(402)])
    wait_until_sync(lambda: writer.statistics.failures >= 1, 10.0, "the first failure")
    assert "402 events, 0 messages and 0 state keys wait" in caplog.text
    started = time.monotonic()
    writer.close(1.5)
    assert time.monotonic() - started < 1.5 + 0.5  # its budget, and a scheduling margin
    assert writer.waiting() == (402, 0)
    assert "402 events not stored at shutdown" in caplog.text
