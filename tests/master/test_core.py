"""The master core without I/O: links, pack figures, E2E statistics, frames it sends."""

import pytest

from bms.settings import Settings, load_settings
from dbc.codec import CanFrame, pack_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import (
    BalancingCommand,
    CellVoltageExtremes,
    CellVoltages,
    MasterHeartbeat,
    MasterState,
    MasterSummary,
    ModulesLostMask,
    ModulesOnlineMask,
)
from dbc.ivt import IvtCurrent, IvtFlag
from master.core import MasterCore
from master.slave_registry import LinkState


def small() -> Settings:
    return load_settings(None, ["pack.modules=2", "pack.cells_per_module=4"])


class Slaves:
    """Encodes frames as the slaves of a small pack would."""

    def __init__(self) -> None:
        self.sender = FrameSender(pack_codec())

    def voltages(self, module_id: int, mv: int = 3700) -> CanFrame:
        return self.sender.encode(CellVoltages(0, (mv, mv + 1, mv + 2, mv + 3)), module_id)


def outputs(frames: list[CanFrame]) -> list[object]:
    receiver = FrameReceiver(pack_codec(), 2, node="Observer")
    decoded = [receiver.receive(f) for f in frames]
    return [(d.module_id, d.frame) for d in decoded if d is not None]


def test_init_until_every_module_is_online_then_standby() -> None:
    core = MasterCore(small(), pack_codec(), now_s=0.0)
    slaves = Slaves()
    core.on_frame(slaves.voltages(0), 0.0)
    core.tick(0.01)
    assert core.state is MasterState.INIT
    core.on_frame(slaves.voltages(1), 0.02)
    core.tick(0.03)
    assert core.state is MasterState.STANDBY


def test_a_silent_slave_becomes_stale_then_lost() -> None:
    core = MasterCore(small(), pack_codec(), now_s=0.0)
    slaves = Slaves()
    t = 0.0
    while t < 1.0:
        core.on_frame(slaves.voltages(0), t)
        if t < 0.5:
            core.on_frame(slaves.voltages(1), t)
        core.tick(t)
        t = round(t + 0.01, 3)
    assert core.registry.links[0].state is LinkState.ONLINE
    assert core.registry.links[1].state is LinkState.LOST
    lost = [c for c in core.statistics.link_changes if c.new is LinkState.LOST]
    assert len(lost) == 1
    assert 0.84 <= lost[0].at_s <= 0.87


def test_corrupted_and_repeated_frames_do_not_count_as_alive() -> None:
    core = MasterCore(small(), pack_codec(), now_s=0.0)
    frame = Slaves().voltages(0)
    core.on_frame(frame, 0.0)
    core.on_frame(frame, 0.1)  # repeated counter
    core.on_frame(CanFrame(frame.arbitration_id, bytes([frame.data[0] ^ 1]) + frame.data[1:]), 0.2)
    assert core.registry.links[0].valid_frames == 1
    assert core.receiver.statistics_of_module(0).errors == 2


def test_frames_for_modules_beyond_the_pack_are_ignored() -> None:
    core = MasterCore(small(), pack_codec(), now_s=0.0)
    core.on_frame(Slaves().voltages(7), 0.0)
    assert core.statistics.frames_ignored == 1


def test_pack_current_from_the_sensor() -> None:
    core = MasterCore(small(), pack_codec(), now_s=0.0)
    core.on_frame(pack_codec().encode(IvtCurrent(3, IvtFlag.NONE, 1500)), 0.5)
    assert core.pack_current_a is not None
    assert core.pack_current_a.value == 1.5


def test_periodic_frames() -> None:
    core = MasterCore(small(), pack_codec(), now_s=0.0)
    slaves = Slaves()
    sent = []
    for step in range(101):  # one second in 10 ms ticks
        now = step / 100
        core.on_frame(slaves.voltages(0, 3600), now)
        core.on_frame(slaves.voltages(1, 3650), now)
        sent += outputs(core.tick(now))
    kinds = [type(f).__name__ for _, f in sent]
    assert kinds.count("MasterHeartbeat") == 11  # every 100 ms, t = 0 and t = 1 included
    assert kinds.count("MasterSummary") == 6  # every 200 ms
    commands = [(m, f) for m, f in sent if isinstance(f, BalancingCommand)]
    assert sorted(m for m, _ in commands) == [0, 0, 1, 1]  # every 1 s per module
    assert all(f == BalancingCommand(0, 0) for _, f in commands)  # no planner yet: no bleeding
    summary = [f for _, f in sent if isinstance(f, MasterSummary)][-1]
    assert (summary.state, summary.modules_online, summary.modules_lost) == \
        (MasterState.STANDBY, 2, 0)
    total_v = sum((3600, 3601, 3602, 3603, 3650, 3651, 3652, 3653)) / 1000
    assert summary.pack_voltage_v == pytest.approx(total_v, abs=0.05)  # 0.1 V in the DBC
    extremes = [f for _, f in sent if isinstance(f, CellVoltageExtremes)][-1]
    assert (extremes.min_mv, extremes.min_module, extremes.min_cell) == (3600, 0, 0)
    assert (extremes.max_mv, extremes.max_module, extremes.max_cell) == (3653, 1, 3)
    online = [f for _, f in sent if isinstance(f, ModulesOnlineMask)][-1]
    lost = [f for _, f in sent if isinstance(f, ModulesLostMask)][-1]
    assert (online.mask, lost.mask) == (0b11, 0)
    heartbeat = next(f for _, f in sent if isinstance(f, MasterHeartbeat))
    assert heartbeat.balancing_allowed is False
