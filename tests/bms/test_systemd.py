"""The notify protocol, against a datagram socket playing systemd."""

import socket
from pathlib import Path

import pytest

from bms.systemd import Notifier


def test_ready_once_and_watchdog_at_half_the_period(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.settimeout(1.0)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        notifier = Notifier()
        for now in (0.0, 0.5, 0.99, 1.0, 1.5, 2.0):
            notifier.alive(now)
        notifier.stopping()
        messages = [systemd.recv(64).decode() for _ in range(5)]
    assert messages == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]


def test_silent_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    notifier.alive(0.0)  # nothing to send to, nothing raised
    assert notifier.address is None
