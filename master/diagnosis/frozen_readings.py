"""A slave whose readings stopped changing: frames keep coming with running alive counters
and valid CRCs, but every cell voltage is what it was.

Real AFE readings carry noise: a module whose cells all read exactly the same for
``master.frozen_readings_s`` has stopped measuring (a hung AFE driver, a slave resending
its last frame, a replaying node), and the master is blind to that module's cells. Each
cell-voltage group is compared with its own previous frame; a module counts as frozen when
no group of it changed for that long.
"""

from __future__ import annotations


class FrozenReadings:
    def __init__(self, modules: int, frozen_s: float) -> None:
        self.frozen_s = frozen_s  # 0: the check is off
        self._last: list[dict[int, tuple[int | None, ...]]] = [{} for _ in range(modules)]
        self._changed_s: list[float | None] = [None] * modules

    def observe(self, module: int, first_cell: int, voltages_mv: tuple[int | None, ...],
                now_s: float) -> bool:
        """One CellVoltages frame; True while the module's readings count as frozen."""
        last = self._last[module]
        if last.get(first_cell) != voltages_mv:
            last[first_cell] = voltages_mv
            self._changed_s[module] = now_s
            return False
        changed_s = self._changed_s[module]
        return self.frozen_s > 0 and changed_s is not None and \
            now_s - changed_s >= self.frozen_s
