"""A pack's source as the site's plant reads it from the slaves' frames: each voltage less
the current of its own moment through its cells' R0."""

from __future__ import annotations

import math

import pytest

from bms.chemistry import series_cell
from bms.settings import Settings, load_settings
from dbc.codec import pack_codec
from dbc.endpoint import FrameSender
from dbc.frames import CellVoltages
from sim.sensed_cells import SMOOTHING_S, SensedCells

CELL_MV = 3266  # every cell, at the terminals
GROUP = 4  # cells per CellVoltages frame


def pack() -> Settings:
    return load_settings(None, ["pack.modules=2", "pack.cells_per_module=8",
                                "pack.chemistry=\"LFP\"", "pack.cell_capacity_ah=100.0"])


class Current:
    def __init__(self) -> None:
        self.a = 0.0

    def __call__(self) -> float:
        return self.a


def send_all(cells: SensedCells, sender: FrameSender, settings: Settings, now_s: float,
             cell_mv: int = CELL_MV) -> None:
    for module in range(settings.pack.modules):
        for first in range(0, settings.pack.cells_per_module, GROUP):
            cells.on_frame(sender.encode(CellVoltages(first, (cell_mv,) * GROUP), module), now_s)


def test_the_source_is_each_voltage_less_the_current_of_its_moment() -> None:
    settings, current = pack(), Current()
    cells, sender = SensedCells(settings, current), FrameSender(pack_codec())
    r0_ohm = series_cell(settings).r0_ohm
    assert not cells.complete
    current.a = -50.0  # discharging: the terminals sit below the source
    send_all(cells, sender, settings, 0.0)
    assert cells.complete
    expected_v = 16 * (CELL_MV / 1000.0 + 50.0 * r0_ohm)
    assert cells.thevenin(0.0).source_v == pytest.approx(expected_v)
    assert cells.thevenin(0.0).resistance_ohm == pytest.approx(16 * r0_ohm)
    # the current changes before the slaves measure again: their old voltages still go
    # with the old current, so the source does not move
    current.a = 20.0
    assert cells.thevenin(1.0).source_v == pytest.approx(expected_v)


def test_a_new_measurement_reaches_the_source_through_the_smoothing() -> None:
    settings, current = pack(), Current()
    cells, sender = SensedCells(settings, current), FrameSender(pack_codec())
    send_all(cells, sender, settings, 0.0)
    before_v = cells.thevenin(0.0).source_v
    send_all(cells, sender, settings, 0.0, CELL_MV + 10)  # 16 cells 10 mV higher
    after_tau_v = cells.thevenin(SMOOTHING_S).source_v - before_v
    assert after_tau_v == pytest.approx(0.160 * (1 - 1 / math.e), rel=1e-3)
    assert cells.thevenin(10 * SMOOTHING_S).source_v - before_v == pytest.approx(0.160, rel=1e-3)


def test_frames_of_modules_the_pack_does_not_have_are_not_its_cells() -> None:
    settings = pack()
    cells, sender = SensedCells(settings, Current()), FrameSender(pack_codec())
    cells.on_frame(sender.encode(CellVoltages(0, (CELL_MV,) * GROUP), 5), 0.0)
    assert cells.raw_source_v() == 0.0
