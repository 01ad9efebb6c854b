"""The observer sees what any tool on the bus sees: links, cells, rates, the master's view."""

import pytest

from bms.settings import load_settings
from dbc.codec import pack_codec
from dbc.endpoint import FrameSender
from dbc.frames import CellVoltages, MasterState, MasterSummary, ModulesLostMask
from sim.observer import Link, PackObserver


def test_view_of_a_small_pack() -> None:
    settings = load_settings(None, ["pack.modules=2", "pack.cells_per_module=4"])
    codec = pack_codec()
    observer = PackObserver(settings, 0.0)
    slaves, master = FrameSender(codec), FrameSender(codec)
    for step in range(10):
        now = step / 10
        observer.on_frame(slaves.encode(CellVoltages(0, (3700, 3710, 3720, 3730)), 0), now)
        if step < 3:
            observer.on_frame(slaves.encode(CellVoltages(0, (3600, 3600, 3600, None)), 1), now)
    observer.on_frame(master.encode(MasterSummary(MasterState.STANDBY, 1, 0, 1, 30.0, 0)), 0.9)
    observer.on_frame(master.encode(ModulesLostMask(0b10)), 0.9)
    view = observer.view(0.95)
    first, second = view.modules
    assert (first.link, second.link) == (Link.ONLINE, Link.LOST)
    assert (first.min_cell_mv, first.max_cell_mv, first.avg_cell_mv) == (3700, 3730, 3715)
    assert second.cells_seen == 3
    assert first.cells_seen == 4
    assert second.master_link is Link.LOST
    assert view.master_state is MasterState.STANDBY
    assert view.frames_total == 15
    # 15 frames of 8 bytes (135 bits worst case) within the last second
    assert view.bus_load == pytest.approx(15 * 135 / 0.95 / 500_000)
