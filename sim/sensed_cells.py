"""A pack's cells as a Thevenin source, seen from outside them: what the plant of a site
(`bms sim site-bus`) knows of cells that live in the slaves' processes.

The slaves publish their cells' terminal voltages (CellVoltages), each measured at the
current they last heard from the box's sensor. Each group of a module is kept with the
current that flowed when it arrived, so that its share of the source is its voltage less
that current through its cells' R0: E = sum over groups (V_g - I_g x n_g x R0). Pairing each
voltage with the current of its own moment matters: E from the newest current and older
voltages is wrong by (I_then - I_now) x R at every change, and on a bus of stiff branches
that error feeds back into the currents (an oscillation of the packs' shares). A short low
pass (``SMOOTHING_S``, far below the cells' own time constants) keeps the arrival order of
the groups out of E. R is the cells' nominal R0 summed (the pack's settings). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from bms.chemistry import series_cell
from bms.settings import Settings
from dbc.codec import CanFrame, pack_codec
from dbc.endpoint import FrameReceiver
from dbc.frames import CellVoltages
from sim.module_plant import Thevenin

MV_PER_V: Final = 1000.0
SMOOTHING_S: Final = 0.2  # the RC pairs of these cells: 14 s and more


class SensedCells:
    """`thevenin(now)` for sim/site_plant.py from the slaves' frames on the pack bus."""

    def __init__(self, settings: Settings, current_a: Callable[[], float]) -> None:
        codec = pack_codec()
        layout = codec.layout_of(CellVoltages)
        self.receiver = FrameReceiver(codec, settings.master.e2e_max_lost_frames, "Observer")
        self.wanted_ids = frozenset(range(layout.base_id, layout.base_id + settings.pack.modules))
        self.cell_r0_ohm = series_cell(settings).r0_ohm
        self.resistance_ohm = self.cell_r0_ohm * settings.pack.cells
        self.cells = settings.pack.cells
        self.current_a = current_a
        # (module, first cell) -> (source of its cells, cells)
        self._groups: dict[tuple[int, int], tuple[float, int]] = {}
        self._source_v: float | None = None
        self._last_s: float | None = None

    def on_frame(self, frame: CanFrame, now_s: float) -> None:
        if frame.arbitration_id not in self.wanted_ids:
            return
        reception = self.receiver.receive(frame)
        if reception is None or not isinstance(reception.frame, CellVoltages):
            return
        valid = [v for v in reception.frame.voltages_mv if v is not None]
        terminal_v = sum(valid) / MV_PER_V
        self._groups[(reception.module_id, reception.frame.first_cell)] = (
            terminal_v - self.current_a() * self.cell_r0_ohm * len(valid), len(valid))

    @property
    def complete(self) -> bool:
        """Every cell heard at least once (before that, E is a part of the pack's)."""
        return sum(cells for _, cells in self._groups.values()) >= self.cells

    def raw_source_v(self) -> float:
        return sum(source_v for source_v, _ in self._groups.values())

    def thevenin(self, now_s: float) -> Thevenin:
        raw_v = self.raw_source_v()
        if self._source_v is None or self._last_s is None or not self.complete:
            self._source_v = raw_v
        else:
            weight = 1.0 - math.exp(-max(0.0, now_s - self._last_s) / SMOOTHING_S)
            self._source_v += weight * (raw_v - self._source_v)
        self._last_s = now_s
        return Thevenin(self._source_v, self.resistance_ohm)
