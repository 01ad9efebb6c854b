"""A real master with its store, killed with SIGKILL in the middle of a virtual pack's run:
the events and the state it committed are there, consistent, and `bms events` lists them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dbc.sim_frames import CellQuantity, InjectCell
from master.store import Store
from testbed.packs import finish, online_pack
from testbed.waiting import wait_until

pytestmark = pytest.mark.multiprocess


def read(db: Path, query: str) -> list[tuple]:  # type: ignore[type-arg]
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            return connection.execute(query).fetchall()
    except sqlite3.Error:
        return []  # not created yet


async def test_sigkill_keeps_committed_events_and_state(tmp_path: Path) -> None:
    extra = "[master]\nstore_snapshot_period_s = 0.5\n"
    async with online_pack(tmp_path, 2, "--keep-going", extra=extra) as pack:
        db = pack.run_dir / "bms.sqlite"
        await wait_until(lambda: bool(read(db, "SELECT 1 FROM state WHERE key = 'estimator' "
                                               "AND value NOT LIKE '%NaN%'")),
                         10.0, "an estimator snapshot in the store")
        await pack.inject(InjectCell(1, 2, CellQuantity.VOLTAGE, 4350.0, 2.0))
        await wait_until(lambda: bool(read(db, "SELECT 1 FROM events WHERE entry = "
                                               "'cell_overvoltage_msl' AND change = 'set'")),
                         5.0, "the over-voltage event committed")
        await wait_until(lambda: bool(read(db, "SELECT 1 FROM state WHERE key = 'safety' "
                                               "AND value LIKE '%\"error\": true%'")),
                         5.0, "the ERROR state committed as it happened")
        os.kill(pack.pid("master"), signal.SIGKILL)
        pack.process.send_signal(signal.SIGINT)
        await finish(pack.process)
        # what Restart=always does: a new master on the same store starts in ERROR
        restarted = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "master", "--config", str(pack.config), "--set",
            f"master.store_path={db}", "--set", f"master.blackbox_dir={tmp_path / 'bb'}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            assert restarted.stdout is not None
            said = ""
            async with asyncio.timeout(30.0):
                while "master up" not in said:
                    said += (await restarted.stdout.readline()).decode()
        finally:
            restarted.kill()
            await restarted.wait()
        assert "ERROR restored (cause cell_overvoltage_msl)" in said, said
    store = Store.open(db, read_only=True)
    assert store.integrity() == "ok"
    events = store.events()
    texts = [e.text for e in events]
    assert any("INIT -> STANDBY" in t for t in texts)
    (trip,) = [e for e in events if e.entry == "cell_overvoltage_msl" and e.change == "set"]
    assert (trip.severity, trip.module, trip.element) == ("fatal", 1, 2)
    assert trip.freeze is not None
    assert trip.freeze["max_cell_mv"][1:] == [1, 2]  # the freeze frame names the cell
    assert trip.freeze["state"] in ("NORMAL", "ERROR")
    state = store.load_state("estimator")
    assert state is not None
    assert len(state[1]["soc"]) == pack.settings.pack.cells

    check_events_cli(db)


def check_events_cli(db: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bms", "events", "--db", str(db),
                             "--severity", "fatal", "--module", "1", "--format", "jsonl"],
                            capture_output=True, text=True, timeout=60, check=True)
    listed = [json.loads(line) for line in result.stdout.splitlines()]
    assert (listed[0]["entry"], listed[0]["change"]) == ("cell_overvoltage_msl", "set")
    assert all(e["module"] == 1 and e["severity"] == "fatal" for e in listed)
    table = subprocess.run([sys.executable, "-m", "bms", "events", "--db", str(db),
                            "--since", "1h", "--last", "3"],
                           capture_output=True, text=True, timeout=60, check=True)
    assert len(table.stdout.splitlines()) == 3
    assert f"3 events from {db}" in table.stderr
