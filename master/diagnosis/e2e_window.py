"""E2E results of one sender judged over a window of its last frames, not frame by frame.

Counted +1 for a bad frame and -1 for a good one, any pattern with as many good frames as
bad never set a fault: a forger sending a frame with the next alive counter after each
genuine one (every other frame REPEATED), or a second slave on the same module id, ran for
minutes unflagged. Here a sender is violated while at least ``max_errors`` of its last
``window`` protected frames failed their check; the diagnosis entry's debounce counts those
verdicts. One lost or corrupted frame in a window is tolerated; a steady rate is not.
"""

from __future__ import annotations


class E2eWindow:
    def __init__(self, window: int, max_errors: int) -> None:
        if not 1 <= max_errors <= window <= 64:
            raise ValueError(f"an E2E window of {window} frames with {max_errors} errors")
        self.mask = (1 << window) - 1
        self.max_errors = max_errors
        self.bits = 0  # bit 0: the latest frame; 1: its check failed

    def add(self, is_error: bool) -> bool:
        """One protected frame's result; True while the window holds too many errors."""
        self.bits = ((self.bits << 1) | is_error) & self.mask
        return self.bits.bit_count() >= self.max_errors

    @property
    def errors(self) -> int:
        """Failed checks among the frames in the window."""
        return self.bits.bit_count()
