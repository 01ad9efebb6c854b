"""systemd's notify protocol, without a dependency: READY=1 once the loop runs, WATCHDOG=1
while it keeps running (at half the watchdog period). Does nothing outside systemd."""

from __future__ import annotations

import contextlib
import os
import socket

WATCHDOG_FRACTION = 0.5


class Notifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET")
        if address and address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self.address = address
        usec = os.environ.get("WATCHDOG_USEC")
        self.watchdog_s = int(usec) / 1e6 * WATCHDOG_FRACTION if usec else None
        self._ready = False
        self._last_s = float("-inf")

    def _send(self, message: str) -> None:
        if not self.address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, \
                contextlib.suppress(OSError):  # systemd gone: nothing to tell
            sock.sendto(message.encode(), self.address)

    def alive(self, now_s: float) -> None:
        """Called by a control loop every iteration."""
        if not self._ready:
            self._ready = True
            self._send("READY=1")
        if self.watchdog_s is not None and now_s - self._last_s >= self.watchdog_s:
            self._last_s = now_s
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")
