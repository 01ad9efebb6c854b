"""`bms events`: times as ISO 8601 or ages, and clear refusals."""

import subprocess
import sys
from pathlib import Path

import pytest

from master.events_cli import parse_time


def test_times_are_iso_or_ages() -> None:
    assert parse_time("2h", 10_000.0) == 10_000.0 - 7200
    assert parse_time("30m", 10_000.0) == 10_000.0 - 1800
    assert parse_time("1.5d", 200_000.0) == 200_000.0 - 129_600
    assert parse_time("2026-11-25T08:00:00+00:00", 0.0) == 1795593600.0
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday", 0.0)


def test_refusals_name_the_reason(tmp_path: Path) -> None:
    def bms(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bms", "events", *args],
                              capture_output=True, text=True, timeout=60)

    missing = bms("--db", str(tmp_path / "none.sqlite"))
    assert missing.returncode == 1
    assert "no such store" in missing.stderr
    bad_time = bms("--db", str(tmp_path / "none.sqlite"), "--since", "soon")
    assert bad_time.returncode == 2
    assert "'soon': not a time" in bad_time.stderr


def test_the_listing_says_when_older_events_were_deleted(tmp_path: Path) -> None:
    from master.store import Store, StoredEvent

    store = Store.open(tmp_path / "bms.sqlite", max_events=3)
    store.append([StoredEvent(1000.0 + n, float(n), "notice", f"note {n}") for n in range(10)])
    store.close()
    listed = subprocess.run([sys.executable, "-m", "bms", "events", "--db",
                             str(tmp_path / "bms.sqlite")], capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == ["7", "8", "9"]
    assert "(7 older events were deleted to keep the store within master.store_max_events)" \
        in listed.stderr


def test_a_damaged_store_is_named_not_a_traceback(tmp_path: Path) -> None:
    from master.store import Store, StoredEvent

    path = tmp_path / "bms.sqlite"
    store = Store.open(path)
    store.append([StoredEvent(1000.0 + n, float(n), "notice", f"note {n} " + "x" * 200)
                  for n in range(3000)])
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    for offset in range(3 * 4096, len(data) - 4096, 7 * 4096):  # pages of events zeroed
        data[offset + 100:offset + 400] = bytes(300)
    path.write_bytes(bytes(data))
    listed = subprocess.run([sys.executable, "-m", "bms", "events", "--db", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 1
    assert "the file is damaged" in listed.stderr
    assert "Traceback" not in listed.stderr
