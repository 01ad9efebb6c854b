"""A module whose readings flip between two sets: frames that each pass E2E, but every other
one tells a different story.

That is what a second source on a module's identifiers looks like once it owns the alive
counter (a forger that sends, after each genuine frame, one of its own with the next counter;
a second slave configured with the same module id whose frames happen to keep the sequence),
and it defeats a debounce fed with every reading: an over-voltage seen in every other frame
never counts up. Real cells do not do it.

Each cell-voltage group (one CellVoltages frame) is compared with its own last two frames,
as deviations from the group's mean, so that a current step that moves every cell at once
is not a flip. A frame flips when some cell left its previous value by at least
``jump_mv`` and is back within half of that of the value two frames before. A module counts
as flipping while ``FLIPS_IN_WINDOW`` of the last ``WINDOW_FRAMES`` frames of one group did.
"""

from __future__ import annotations

from collections import deque

WINDOW_FRAMES = 16
FLIPS_IN_WINDOW = 4

Deviations = tuple[float | None, ...]


def _deviations(voltages_mv: tuple[int | None, ...]) -> Deviations:
    valid = [v for v in voltages_mv if v is not None]
    if len(valid) < 2:
        return tuple(None for _ in voltages_mv)
    mean_mv = sum(valid) / len(valid)
    return tuple(None if v is None else v - mean_mv for v in voltages_mv)


class _Group:
    __slots__ = ("before", "flips", "last")

    def __init__(self) -> None:
        self.before: Deviations | None = None  # two frames ago
        self.last: Deviations | None = None
        self.flips: deque[bool] = deque(maxlen=WINDOW_FRAMES)


class FlippingReadings:
    def __init__(self, modules: int, jump_mv: float) -> None:
        self.jump_mv = jump_mv  # 0: the check is off
        self._groups: list[dict[int, _Group]] = [{} for _ in range(modules)]

    def observe(self, module: int, first_cell: int, voltages_mv: tuple[int | None, ...]) -> bool:
        """One CellVoltages frame; True while the module's readings count as flipping."""
        if self.jump_mv <= 0:
            return False
        group = self._groups[module].get(first_cell)
        if group is None:
            group = self._groups[module][first_cell] = _Group()
        now = _deviations(voltages_mv)
        group.flips.append(self._flipped(group.before, group.last, now))
        group.before, group.last = group.last, now
        return sum(group.flips) >= FLIPS_IN_WINDOW

    def _flipped(self, before: Deviations | None, last: Deviations | None,
                 now: Deviations) -> bool:
        if before is None or last is None:
            return False
        jump, back = self.jump_mv, self.jump_mv / 2
        for b, p, n in zip(before, last, now, strict=False):
            if b is not None and p is not None and n is not None and \
                    abs(n - p) >= jump and abs(n - b) < back:
                return True
        return False
