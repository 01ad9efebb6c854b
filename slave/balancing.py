"""Executes the master's balancing command, and stops on its own when the command goes stale.

A command holds for its duration, but never longer than ``command_timeout_s`` after it was
received: if the master stops repeating it (master lost, bus lost), bleeding stops. A command
for more cells than ``max_cells`` (``balancing.max_cells_per_module``, the limit the master
plans within) is refused whole and bleeding stops: the slave holds its own thermal limit,
whoever sent the frame.
"""

from __future__ import annotations


class BalancingExecutor:
    def __init__(self, cells: int, command_timeout_s: float, max_cells: int) -> None:
        self._valid_cells_mask = (1 << cells) - 1
        self.command_timeout_s = command_timeout_s
        self.max_cells = max_cells
        self.refused = 0  # commands for more cells than max_cells
        self._mask = 0
        self._received_s: float | None = None
        self._until_s = 0.0

    def command(self, cells_mask: int, duration_s: float, now_s: float) -> None:
        mask = cells_mask & self._valid_cells_mask
        if mask.bit_count() > self.max_cells:
            self.refused += 1
            mask = 0
        self._mask = mask
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
