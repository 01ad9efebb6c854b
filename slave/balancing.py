"""Executes the master's balancing command, and stops on its own when the command goes stale.

A command holds for its duration, but never longer than ``command_timeout_s`` after it was
received: if the master stops repeating it (master lost, bus lost), bleeding stops.
"""

from __future__ import annotations


class BalancingExecutor:
    def __init__(self, cells: int, command_timeout_s: float) -> None:
        self._valid_cells_mask = (1 << cells) - 1
        self.command_timeout_s = command_timeout_s
        self._mask = 0
        self._received_s: float | None = None
        self._until_s = 0.0

    def command(self, cells_mask: int, duration_s: float, now_s: float) -> None:
        self._mask = cells_mask & self._valid_cells_mask
        self._received_s = now_s
        self._until_s = now_s + duration_s

    def stop(self) -> None:
        self._mask = 0
        self._until_s = 0.0

    def stale(self, now_s: float) -> bool:
        """A command was received once but is now older than the timeout."""
        return self._received_s is not None and now_s - self._received_s > self.command_timeout_s

    def active_mask(self, now_s: float) -> int:
        if self._received_s is None or self.stale(now_s) or now_s >= self._until_s:
            return 0
        return self._mask
