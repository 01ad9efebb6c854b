"""The slave core without I/O: frames per period, balancing, pack current, bad commands."""

from dataclasses import dataclass, field

import pytest

from bms.settings import Settings, load_settings
from dbc.codec import CanFrame, pack_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import (
    AfeState,
    BalancingCommand,
    CellTemperatures,
    CellVoltages,
    MasterHeartbeat,
    MasterState,
    ModuleFault,
    ModuleStatus,
)
from dbc.ivt import IvtCurrent, IvtFlag
from slave.afe.base import AfeMeasurement
from slave.afe.sim import SimAfe
from slave.core import SlaveCore


@dataclass
class FakeAfe:
    cells: int = 18
    sensors: int = 8
    voltage_mv: float = 3700.0
    faults: ModuleFault = ModuleFault.NONE
    masks: list[int] = field(default_factory=list)
    current_a: float | None = None

    def measure(self, now_s: float) -> AfeMeasurement:
        voltages = tuple(self.voltage_mv + i for i in range(self.cells))
        return AfeMeasurement(voltages, (25.0,) * self.sensors, self.faults)

    def set_balancing(self, cells_mask: int) -> None:
        self.masks.append(cells_mask)

    def close(self) -> None:
        pass

    def set_pack_current(self, current_a: float, now_s: float) -> None:
        self.current_a = current_a


def settings(cells: int = 18) -> Settings:
    return load_settings(None, [f"pack.cells_per_module={cells}"])


def decode_all(frames: list[CanFrame]) -> list[object]:
    receiver = FrameReceiver(pack_codec(), 2, node="Master")
    result = []
    for frame in frames:
        reception = receiver.receive(frame)
        assert reception is not None
        assert reception.frame is not None
        result.append((reception.module_id, reception.frame))
    return result


def test_every_cell_every_period_temperatures_and_status_less_often() -> None:
    afe = FakeAfe()
    core = SlaveCore(settings(18), 5, afe, pack_codec(), now_s=0.0)
    sent = [decode_all(core.tick(t / 10)) for t in range(10)]  # one second
    voltages = [[f for m, f in tick if isinstance(f, CellVoltages)] for tick in sent]
    assert all(len(v) == 5 for v in voltages)  # 18 cells in groups of four
    cells = {f.first_cell + i: mv for f in voltages[0] for i, mv in enumerate(f.voltages_mv)}
    assert [cells[i] for i in range(18)] == [3700 + i for i in range(18)]
    assert cells[18] is None
    assert cells[19] is None
    temperature_ticks = [i for i, tick in enumerate(sent)
                         if any(isinstance(f, CellTemperatures) for _, f in tick)]
    status_ticks = [i for i, tick in enumerate(sent)
                    if any(isinstance(f, ModuleStatus) for _, f in tick)]
    assert temperature_ticks == [0, 5]  # 0.5 s
    assert status_ticks == [0, 2, 4, 6, 8]  # 0.2 s
    assert all(m == 5 for tick in sent for m, _ in tick)


def command_frames(module_id: int, mask: int, duration_s: int) -> CanFrame:
    return FrameSender(pack_codec()).encode(BalancingCommand(mask, duration_s), module_id)


def test_balancing_command_for_this_module_is_executed_then_goes_stale() -> None:
    afe = FakeAfe()
    core = SlaveCore(settings(), 2, afe, pack_codec(), now_s=0.0)
    core.on_frame(command_frames(2, 0b1001, 60), now_s=0.0)
    core.on_frame(command_frames(3, 0b0110, 60), now_s=0.0)  # another module's command
    core.tick(0.1)
    assert afe.masks[-1] == 0b1001
    status = core.status(0.1)
    assert status.balancing_mask == 0b1001
    assert status.afe_state is AfeState.MEASURING
    core.tick(3.5)  # no new command for longer than balancing_command_timeout_s
    assert afe.masks[-1] == 0
    assert ModuleFault.BALANCING_COMMAND_STALE in core.status(3.5).faults


def test_corrupted_command_is_not_executed() -> None:
    afe = FakeAfe()
    core = SlaveCore(settings(), 2, afe, pack_codec(), now_s=0.0)
    good = command_frames(2, 0b1, 60)
    core.on_frame(CanFrame(good.arbitration_id, bytes([good.data[0] ^ 0xFF]) + good.data[1:]),
                  now_s=0.0)
    core.tick(0.1)
    assert afe.masks[-1] == 0
    assert core.statistics.rejected == {"BalancingCommand": 1}


def test_pack_current_from_the_sensor_reaches_the_afe() -> None:
    afe = FakeAfe()
    core = SlaveCore(settings(), 0, afe, pack_codec(), now_s=0.0)
    core.on_frame(pack_codec().encode(IvtCurrent(0, IvtFlag.NONE, -12_500)), now_s=0.0)
    assert afe.current_a == pytest.approx(-12.5)
    core.on_frame(pack_codec().encode(IvtCurrent(1, IvtFlag.CHANNEL_ERROR, 99_000)), now_s=0.1)
    assert afe.current_a == pytest.approx(-12.5)  # an invalid value is not used


def test_heartbeat_is_tracked() -> None:
    core = SlaveCore(settings(), 0, FakeAfe(), pack_codec(), now_s=0.0)
    frame = FrameSender(pack_codec()).encode(MasterHeartbeat(MasterState.STANDBY, False))
    core.on_frame(frame, now_s=1.0)
    assert core.master_state is MasterState.STANDBY
    assert core.statistics.last_heartbeat_s == 1.0


def test_overrun_and_range_faults_are_reported() -> None:
    afe = FakeAfe(voltage_mv=4800.0)  # above what the DBC carries
    core = SlaveCore(settings(), 0, afe, pack_codec(), now_s=0.0)
    core.tick(0.0)
    core.tick(0.5)  # five periods late
    faults = core.status(0.5).faults
    assert ModuleFault.MEASUREMENT_OVERRUN in faults
    assert ModuleFault.MEASUREMENT_RANGE in faults
    first = next(f for _, f in decode_all(core.tick(0.6)) if isinstance(f, CellVoltages))
    assert first.voltages_mv[0] == 4594  # saturated, still above any limit


def test_afe_comm_fault_sets_the_afe_state() -> None:
    core = SlaveCore(settings(), 0, FakeAfe(faults=ModuleFault.AFE_COMM), pack_codec(), 0.0)
    core.tick(0.0)
    assert core.status(0.0).afe_state is AfeState.FAULT


def test_sim_afe_follows_the_pack_current() -> None:
    s = settings(16)
    afe = SimAfe(s, module_id=0, now_s=0.0)
    rest = afe.measure(0.0).cell_voltages_mv
    afe.set_pack_current(-20.0, 0.0)
    loaded = afe.measure(1.0).cell_voltages_mv
    assert all(b < a - 300 for a, b in zip(rest, loaded, strict=True))  # about 20 A x 23 mOhm
    assert all(v is not None and round(v * 10) == v * 10 for v in loaded)  # 100 uV steps
