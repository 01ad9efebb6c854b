"""The SQLite store: what goes in comes back, and a writer killed with SIGKILL at random
moments loses no committed event and leaves a consistent database."""

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from master.store import Store, StoredEvent, StoreError

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from master.store import Store, StoredEvent
    store = Store.open(Path(sys.argv[1]))
    n = 0
    while True:
        n += 1
        ids = store.append([StoredEvent(time.time(), n, "diagnosis", f"event {n}",
                                        severity="fatal", module=n % 4,
                                        freeze={"n": n, "cells": list(range(64))})])
        if n % 7 == 0:
            store.save_state({"estimator": {"n": n, "soc": [0.5] * 512}})
        print(ids[0], n, flush=True)  # printed only after the commit returned
""")


def event(n: int, **changes: object) -> StoredEvent:
    base = StoredEvent(1000.0 + n, float(n), "diagnosis", f"event {n}", entry="slave_lost",
                       change="set", severity="fatal", module=n % 3, element=None,
                       freeze={"state": "NORMAL", "n": n})
    return StoredEvent(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_events_and_state_come_back(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    ids = store.append([event(1), event(2, severity="warning", kind="diagnosis"),
                        event(3, kind="state", severity=None, module=None)])
    assert ids == [1, 2, 3]
    store.save_state({"counters": {"charged_ah": 1.5}, "contactor_closings": [3, 3, 1]})
    store.save_state({"counters": {"charged_ah": 2.5}})
    reader = Store.open(tmp_path / "s.sqlite", read_only=True)
    back = reader.events()
    assert [e.id for e in back] == [1, 2, 3]
    assert back[0].freeze == {"state": "NORMAL", "n": 1}
    assert back[0].entry == "slave_lost"
    assert reader.load_state("counters")[1] == {"charged_ah": 2.5}  # type: ignore[index]
    assert reader.load_state("contactor_closings")[1] == [3, 3, 1]  # type: ignore[index]
    assert reader.load_state("nothing") is None
    assert [e.id for e in reader.events(severities=["warning"])] == [2]
    assert [e.id for e in reader.events(kinds=["state"])] == [3]
    assert [e.id for e in reader.events(module=1)] == [1]
    assert [e.id for e in reader.events(since=1001.5, until=1002.5)] == [2]
    assert [e.id for e in reader.events(limit=2)] == [2, 3]


def test_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        Store.open(tmp_path / "none.sqlite", read_only=True)
    store = Store.open(tmp_path / "s.sqlite")
    store.connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        Store.open(tmp_path / "s.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite"):
        Store.open(tmp_path / "junk.sqlite")


def test_sigkill_at_random_moments_loses_no_committed_event(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    rng = random.Random(11)
    committed: dict[int, int] = {}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout is not None
        for _ in range(rng.randint(5, 120)):  # a random moment: after some commits
            line = child.stdout.readline()
            assert line, "the writer died on its own"
            event_id, n = map(int, line.split())
            committed[event_id] = n
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        store = Store.open(path, read_only=True)
        assert store.integrity() == "ok"
        stored = {e.id: e for e in store.events()}
        missing = [i for i in committed if i not in stored]
        assert missing == [], "committed events lost"
        assert all(stored[i].text == f"event {n}" for i, n in committed.items())
        assert all(e.freeze is not None and len(e.freeze["cells"]) == 64
                   for e in stored.values())
        state = store.load_state("estimator")
        assert state is None or len(state[1]["soc"]) == 512
        store.close()
    assert len(committed) > 100


def test_the_outbox_gets_each_event_in_its_transaction_and_empties_on_delivery(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bms.sqlite")
    ids = store.append([event(1), event(2)],
                       outbox=lambda e: ("bms/p/events", f"event {e.id}".encode()))
    store.enqueue([("bms/p/state", b"s1")])
    assert [(topic, payload) for _, topic, payload in store.outbox()] == [
        ("bms/p/events", f"event {ids[0]}".encode()), ("bms/p/events", f"event {ids[1]}".encode()),
        ("bms/p/state", b"s1")]
    first = store.outbox(limit=1)[0][0]
    store.delivered(first)
    assert [payload for _, _, payload in store.outbox()] == [f"event {ids[1]}".encode(), b"s1"]
    assert store.outbox(after_id=first + 1) == store.outbox()[1:]
    store.close()
    reopened = Store.open(tmp_path / "bms.sqlite")
    assert reopened.outbox_size() == 2  # undelivered messages survive a restart


def test_the_outbox_bounds_a_topic_but_never_events(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bms.sqlite")
    store.append([event(1)], outbox=lambda e: ("bms/p/events", b"e"))
    for n in range(10):
        store.enqueue([("bms/p/state", bytes([n]))], keep_per_topic=3)
    rows = store.outbox()
    assert [payload for _, topic, payload in rows if topic == "bms/p/state"] == [
        bytes([7]), bytes([8]), bytes([9])]  # the latest three
    assert [topic for _, topic, _ in rows].count("bms/p/events") == 1


def test_the_event_history_keeps_the_latest_events_within_its_bound(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bms.sqlite", max_events=5)
    for batch in ([1, 2, 3], [4], [5, 6, 7, 8], [9, 10, 11, 12]):
        store.append([event(n) for n in batch],
                     outbox=lambda e: ("bms/p/events", e.text.encode()))
    assert [e.text for e in store.events()] == [f"event {n}" for n in range(8, 13)]
    assert store.events_pruned() == 7
    # the events' MQTT messages are not history: every one is still to be delivered
    assert [payload for _, _, payload in store.outbox(limit=100)] == [
        f"event {n}".encode() for n in range(1, 13)]
    store.close()
    reader = Store.open(tmp_path / "bms.sqlite", read_only=True)
    assert reader.events_pruned() == 7
    assert len(reader.events()) == 5
    assert reader.integrity() == "ok"


def test_without_a_bound_every_event_is_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bms.sqlite")
    store.append([event(n) for n in range(1, 201)])
    assert len(store.events()) == 200
    assert store.events_pruned() == 0
