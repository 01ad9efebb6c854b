"""The master core without I/O: links, pack figures, E2E statistics, frames it sends."""

import pytest

from bms.settings import Settings, load_settings
from dbc.codec import CanFrame, pack_codec, vehicle_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import (
    OPEN,
    BalancingCommand,
    CellTemperatures,
    CellVoltageExtremes,
    CellVoltages,
    ContactorCommand,
    ContactorFeedback,
    Contactors,
    MasterHeartbeat,
    MasterState,
    MasterSummary,
    ModulesLostMask,
    ModulesOnlineMask,
)
from dbc.ivt import IvtCurrent, IvtFlag
from dbc.vehicle_frames import (
    BmsCellVoltageExtremes,
    BmsPack,
    BmsStatus,
    BmsTemperatures,
    BmsVoltageLimits,
    RequestedState,
    ThermalRequest,
    VcuRequest,
)
from master import status_frames
from master.core import MasterCore
from master.diagnosis.table import DiagId
from master.events import PACK, Location
from master.slave_registry import LinkState


def small(*overrides: str) -> Settings:
    return load_settings(None, ["pack.modules=2", "pack.cells_per_module=4", *overrides])


class Peers:
    """Encodes frames as the slaves, the HV box and the VCU of a small pack would."""

    def __init__(self) -> None:
        self.sender = FrameSender(pack_codec())
        self.vcu = FrameSender(vehicle_codec())
        self.ivt_counter = 0

    def voltages(self, module_id: int, mv: int = 3700) -> CanFrame:
        return self.sender.encode(CellVoltages(0, (mv, mv + 1, mv + 2, mv + 3)), module_id)

    def current(self, amps: float = 0.0) -> CanFrame:
        self.ivt_counter = (self.ivt_counter + 1) % 16
        return pack_codec().encode(IvtCurrent(self.ivt_counter, IvtFlag.NONE,
                                              round(amps * 1000)))

    def feedback(self, contactors: Contactors = OPEN) -> CanFrame:
        return self.sender.encode(ContactorFeedback(contactors, False, 0.0))

    def request(self, requested: RequestedState) -> CanFrame:
        return self.vcu.encode(VcuRequest(requested))

    def all(self, core: MasterCore, now: float) -> None:
        for m in range(core.modules):
            core.on_pack_frame(self.voltages(m), now)
        core.on_pack_frame(self.current(), now)
        core.on_pack_frame(self.feedback(), now)
        core.on_vehicle_frame(self.request(RequestedState.STANDBY), now)


def decoded(frames: list[CanFrame], codec=pack_codec) -> list[object]:  # type: ignore[no-untyped-def]
    receiver = FrameReceiver(codec(), 2, node="Observer")
    received = [receiver.receive(f) for f in frames]
    return [(r.module_id, r.frame) for r in received if r is not None]


def test_init_until_every_peer_is_there_then_standby() -> None:
    core = MasterCore(small(), now_s=0.0)
    peers = Peers()
    core.on_pack_frame(peers.voltages(0), 0.0)
    core.on_pack_frame(peers.voltages(1), 0.0)
    core.tick(0.01)
    assert core.state is MasterState.INIT
    assert core.closing_blocked() == "no current measurement"
    core.on_pack_frame(peers.current(), 0.02)
    core.on_pack_frame(peers.feedback(), 0.02)
    core.tick(0.03)
    assert core.state is MasterState.STANDBY


def test_missing_peers_become_faults_after_the_startup_grace() -> None:
    core = MasterCore(small("master.startup_grace_s=1.0"), now_s=0.0)
    core.tick(0.5)
    assert core.state is MasterState.INIT
    core.tick(1.01)
    assert core.state is MasterState.ERROR
    for entry in (DiagId.SLAVE_LOST, DiagId.CURRENT_SENSOR_LOST, DiagId.CONTACTOR_FEEDBACK_LOST,
                  DiagId.VCU_LOST):
        assert f"{entry.name.lower()}:set" in core.statistics.event_counts


def test_a_silent_slave_becomes_stale_then_lost() -> None:
    core = MasterCore(small(), now_s=0.0)
    peers = Peers()
    t = 0.0
    while t < 1.0:
        core.on_pack_frame(peers.voltages(0), t)
        if t < 0.5:
            core.on_pack_frame(peers.voltages(1), t)
        core.tick(t)
        t = round(t + 0.01, 3)
    assert core.registry.links[0].state is LinkState.ONLINE
    assert core.registry.links[1].state is LinkState.LOST
    lost = [c for c in core.statistics.link_changes if c.new is LinkState.LOST]
    assert len(lost) == 1
    assert 0.84 <= lost[0].at_s <= 0.87  # last frame 0.49 + 0.35
    assert core.engine.is_active(DiagId.SLAVE_LOST, Location(1))


def test_a_slave_back_from_stale_clears_its_entry_once_every_module_is_online() -> None:
    """With every module online again, the stale entry still counting down must be seen by
    the control period until it clears (it skips the per-module checks only when nothing is
    pending at any module)."""
    core = MasterCore(small(), now_s=0.0)
    peers = Peers()
    t, silent = 0.0, (0.5, 0.8)  # module 1 silent for 300 ms: stale, not lost
    while t < 2.0:
        core.on_pack_frame(peers.voltages(0), t)
        if not silent[0] <= t < silent[1]:
            core.on_pack_frame(peers.voltages(1), t)
        if t == silent[1]:  # back: every module online, the stale entry still to clear
            assert core.registry.all_online()
            assert core.engine.has_state(DiagId.SLAVE_STALE, Location(1))
        core.tick(t)
        t = round(t + 0.01, 3)
    assert "slave_stale:set" in core.statistics.event_counts
    assert "slave_stale:cleared" in core.statistics.event_counts
    assert not core.engine.has_state(DiagId.SLAVE_STALE, Location(1))


def test_corrupted_and_repeated_frames_do_not_count_as_alive() -> None:
    core = MasterCore(small(), now_s=0.0)
    frame = Peers().voltages(0)
    core.on_pack_frame(frame, 0.0)
    core.on_pack_frame(frame, 0.1)  # repeated counter
    core.on_pack_frame(CanFrame(frame.arbitration_id, bytes([frame.data[0] ^ 1])
                                + frame.data[1:]), 0.2)
    assert core.registry.links[0].valid_frames == 1
    assert core.receiver.statistics_of_module(0).errors == 2


def test_frames_for_modules_beyond_the_pack_are_ignored() -> None:
    core = MasterCore(small(), now_s=0.0)
    core.on_pack_frame(Peers().voltages(7), 0.0)
    assert core.statistics.frames_ignored == 1


def test_pack_current_from_the_sensor() -> None:
    core = MasterCore(small(), now_s=0.0)
    core.on_pack_frame(pack_codec().encode(IvtCurrent(3, IvtFlag.NONE, 1500)), 0.5)
    assert core.pack_current_a is not None
    assert core.pack_current_a.value == 1.5


def test_periodic_frames_of_both_buses() -> None:
    core = MasterCore(small(), now_s=0.0)
    peers = Peers()
    pack, vehicle = [], []
    for step in range(101):  # one second in 10 ms ticks
        now = step / 100
        core.on_pack_frame(peers.voltages(0, 3600), now)
        core.on_pack_frame(peers.voltages(1, 3650), now)
        core.on_pack_frame(peers.current(), now)
        core.on_pack_frame(peers.feedback(), now)
        core.on_vehicle_frame(peers.request(RequestedState.STANDBY), now)
        out = core.tick(now)
        pack += decoded(out.pack)
        vehicle += decoded(out.vehicle, vehicle_codec)
    kinds = [type(f).__name__ for _, f in pack]
    assert kinds.count("MasterHeartbeat") == 11  # every 100 ms, t = 0 and t = 1 included
    assert kinds.count("MasterSummary") == 6  # every 200 ms
    assert kinds.count("ContactorCommand") == 11
    assert all(f == ContactorCommand(Contactors()) for _, f in pack
               if isinstance(f, ContactorCommand))
    commands = [(m, f) for m, f in pack if isinstance(f, BalancingCommand)]
    assert sorted(m for m, _ in commands) == [0, 0, 1, 1]  # every 1 s per module
    # module 1 is 50 mV above module 0: its cells bleed, module 0's do not
    assert sorted(commands, key=lambda c: c[0]) == [
        (0, BalancingCommand(0, 0)), (0, BalancingCommand(0, 0)),
        (1, BalancingCommand(0b1111, 3)), (1, BalancingCommand(0b1111, 3))]
    summary = [f for _, f in pack if isinstance(f, MasterSummary)][-1]
    assert (summary.state, summary.modules_online, summary.modules_lost) == \
        (MasterState.STANDBY, 2, 0)
    total_v = sum((3600, 3601, 3602, 3603, 3650, 3651, 3652, 3653)) / 1000
    assert summary.pack_voltage_v == pytest.approx(total_v, abs=0.05)  # 0.1 V in the DBC
    extremes = [f for _, f in pack if isinstance(f, CellVoltageExtremes)][-1]
    assert (extremes.min_mv, extremes.min_module, extremes.min_cell) == (3600, 0, 0)
    assert (extremes.max_mv, extremes.max_module, extremes.max_cell) == (3653, 1, 3)
    online = [f for _, f in pack if isinstance(f, ModulesOnlineMask)][-1]
    lost = [f for _, f in pack if isinstance(f, ModulesLostMask)][-1]
    assert (online.mask, lost.mask) == (0b11, 0)
    heartbeat = next(f for _, f in pack if isinstance(f, MasterHeartbeat))
    assert heartbeat.balancing_allowed is False
    statuses = [f for _, f in vehicle if isinstance(f, BmsStatus)]
    assert len(statuses) == 11
    vehicle_kinds = [type(f).__name__ for _, f in vehicle]
    assert vehicle_kinds.count("BmsLimits") == vehicle_kinds.count("BmsPowerLimits") == 11
    assert vehicle_kinds.count("BmsSoc") == 1  # every second, once there is an estimate
    assert statuses[-1].state is MasterState.STANDBY
    assert statuses[-1].fault_reason == 0


def test_the_safe_state_frame_opens_everything() -> None:
    core = MasterCore(small(), now_s=0.0)
    ((_, frame),) = decoded([core.safe_state_frame()])
    assert frame == ContactorCommand(Contactors())


def test_pack_bus_off_is_fatal_and_recovery_clears_it() -> None:
    from bms.can_errors import CAN_ERR_BUSOFF, CAN_ERR_CRTL, CAN_ERR_RESTARTED

    core = MasterCore(small(), now_s=0.0)
    core.on_pack_bus_error(CAN_ERR_BUSOFF, bytes(8), 1.0)
    assert core.state is MasterState.ERROR
    assert core.error_cause is DiagId.PACK_BUS_OFF
    assert status_frames.bms_status(core.report(1.0)).fault_groups == {"Bus"}
    core.on_pack_bus_error(CAN_ERR_CRTL, bytes([0, 0x20]), 1.1)  # TX error passive
    assert core.engine.is_active(DiagId.PACK_BUS_ERROR_PASSIVE, PACK)
    core.on_pack_bus_error(CAN_ERR_RESTARTED, bytes(8), 1.2)
    assert not core.engine.active()


def test_heartbeat_sequence_for_the_kernel() -> None:
    from dbc.e2e import E2EChecker, E2EStatus, read_counter

    core = MasterCore(small(), now_s=0.0)
    sequence = core.heartbeat_sequence()
    assert [read_counter(f.data) for f in sequence] == list(range(15))
    checker = E2EChecker(pack_codec().layout("MasterHeartbeat").base_id, 0)
    statuses = [checker.check(f.data) for f in sequence + sequence]  # the kernel loops
    assert statuses[0] is E2EStatus.INITIAL
    assert set(statuses[1:]) == {E2EStatus.OK}
    core.kernel_heartbeat = True
    assert not [f for _, f in decoded(core.tick(0.0).pack) if isinstance(f, MasterHeartbeat)]


def test_the_vehicle_gets_pack_values_voltage_window_and_extremes() -> None:
    core = MasterCore(small(), now_s=0.0)
    peers = Peers()
    vehicle = []
    for step in range(101):
        now = step / 100
        core.on_pack_frame(peers.voltages(0, 3600), now)
        core.on_pack_frame(peers.voltages(1, 3650), now)
        core.on_pack_frame(peers.current(-12.5), now)
        core.on_pack_frame(peers.feedback(), now)
        core.on_pack_frame(peers.sender.encode(CellTemperatures(0, (21.0, 23.0)), 0), now)
        core.on_pack_frame(peers.sender.encode(CellTemperatures(0, (22.0, 46.0)), 1), now)
        core.on_vehicle_frame(peers.request(RequestedState.STANDBY), now)
        vehicle += [f for _, f in decoded(core.tick(now).vehicle, vehicle_codec)]
    pack = [f for f in vehicle if isinstance(f, BmsPack)][-1]
    total_v = sum((3600, 3601, 3602, 3603, 3650, 3651, 3652, 3653)) / 1000
    assert pack.voltage_v == pytest.approx(total_v, abs=0.05)
    assert pack.current_a == -12.5
    assert pack.power_kw == pytest.approx(-12.5 * total_v / 1000, abs=0.05)
    window = [f for f in vehicle if isinstance(f, BmsVoltageLimits)][-1]
    assert (window.max_charge_v, window.min_discharge_v) == (8 * 4.15, 8 * 3.0)
    cells = [f for f in vehicle if isinstance(f, BmsCellVoltageExtremes)][-1]
    assert cells == BmsCellVoltageExtremes(3600, 0, 0, 3653, 1, 3)
    temperatures = [f for f in vehicle if isinstance(f, BmsTemperatures)][-1]
    assert (temperatures.max_degc, temperatures.max_module, temperatures.max_sensor) == (46, 1, 1)
    assert (temperatures.min_degc, temperatures.min_module) == (21, 0)
    assert temperatures.request is ThermalRequest.COOLING  # 46 degC: 4 K before 50


def test_without_a_vcu_the_configured_request_and_the_operator_decide() -> None:
    core = MasterCore(small("endpoints.vcu=false", "endpoints.request_without_vcu=drive"), 0.0)
    peers = Peers()
    for step in range(5):
        now = step / 100
        for m in range(core.modules):
            core.on_pack_frame(peers.voltages(m), now)
        core.on_pack_frame(peers.current(), now)
        core.on_pack_frame(peers.feedback(), now)
        core.on_vehicle_frame(peers.request(RequestedState.STANDBY), now)  # not listened to
        core.tick(now)
    assert core.state is MasterState.PRECHARGE  # asked to drive by the configuration
    assert core.vcu_request is None
    core.remote.state = RequestedState.STANDBY  # the operator, over MQTT
    for step in range(5, 20):
        core.tick(step / 100)
    assert core.state is MasterState.STANDBY
    assert not core.engine.active()  # and no VCU is missed


def test_no_inverter_frame_before_the_first_estimate() -> None:
    # an inverter reads SOC 0 as "force charge": nothing until the estimator has a SOC
    core = MasterCore(small("endpoints.inverter=can_bms", "pack.cells_per_module=8",
                            "pack.chemistry=LFP"), 0.0)  # 16 LFP cells: the 48 V class
    outputs = [core.tick(t * 0.01) for t in range(1, 300)]
    assert core.algorithms.estimate is None
    assert not any(out.inverter for out in outputs)
    # the VCU's frames go out meanwhile, on the vehicle bus (the inverter has its own)
    assert 0x100 in {f.arbitration_id for out in outputs for f in out.vehicle}


def test_protection_sees_the_raw_current_not_the_one_with_the_learned_zero_removed() -> None:
    core = MasterCore(small(), now_s=0.0)
    peers = Peers()
    core.on_pack_frame(peers.feedback(OPEN), 0.0)
    for n in range(1, 4000):  # 40 s with every contactor open: the sensor reads +1.5 A
        core.on_pack_frame(peers.current(1.5), n * 0.01)
    assert core.current_zero.offset_a == pytest.approx(1.5, abs=0.01)
    limit_a = core.limits.charge_overcurrent_a.maximum
    core.on_pack_frame(peers.feedback(Contactors(True, True, False)), 40.0)
    # 1 A over the maximum safety limit as read; 0.5 A under it once the zero is removed
    for n in range(10):
        core.on_pack_frame(peers.current(limit_a + 1.0), 40.0 + n * 0.01)
    assert core.pack_current_a is not None
    assert core.pack_current_a.value == pytest.approx(limit_a - 0.5, abs=0.01)
    assert core.engine.is_active(DiagId.CHARGE_OVERCURRENT_MSL, PACK)
