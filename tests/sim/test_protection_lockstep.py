"""Every fatal diagnosis, broken on purpose in the whole virtual pack (lockstep): the master
goes to ERROR, the HV box reports every contactor open, and the VCU is told why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from bms.can_errors import CAN_ERR_BUSOFF
from bms.settings import load_settings
from dbc.codec import pack_codec
from dbc.frames import OPEN, ContactorCommand, Contactors, Frame, MasterState
from dbc.sim_frames import (
    CellQuantity,
    ContactorFault,
    ContactorId,
    InjectCell,
    InjectContactor,
    InjectCurrent,
    InjectSensor,
    InjectSlave,
    SensorFault,
    SlaveFault,
    VcuCommand,
    VcuCommandRequest,
)
from master.diagnosis.table import DEFAULT_TABLE, DiagId, Severity
from master.events import Location
from master.state_machine import CLOSED
from sim.lockstep import LockstepPack, WireFrame

NORMAL_WITHIN_S = 10.0


def pack(*overrides: str) -> LockstepPack:
    return LockstepPack(load_settings(None, ["pack.modules=2", *overrides]))


def normal(p: LockstepPack) -> LockstepPack:
    p.run_until(lambda: p.master.state is MasterState.NORMAL, NORMAL_WITHIN_S)
    list(p.run(1.0))
    return p


def charging(p: LockstepPack) -> LockstepPack:
    # a charger that ignores the BMS's limits: the power limits would otherwise stop the
    # charge before a charge temperature fault can happen
    p.vcu.obey_limits = False
    p.inject(VcuCommand(VcuCommandRequest.CHARGE))
    p.run_until(lambda: p.master.state is MasterState.CHARGE, NORMAL_WITHIN_S)
    list(p.run(1.0))
    return p


def cut_contactor_feedback(p: LockstepPack) -> None:
    feedback = pack_codec().layout("ContactorFeedback").base_id
    p.cut = lambda item: item.frame.arbitration_id == feedback


@dataclass
class Case:
    entry: DiagId
    faults: list[Frame] = field(default_factory=list)
    overrides: tuple[str, ...] = ()
    prepare: Callable[[LockstepPack], LockstepPack] = normal
    wire: Callable[[LockstepPack], None] | None = None
    within_s: float = 3.0


CASES = [
    Case(DiagId.CELL_OVERVOLTAGE_MSL, [InjectCell(1, 3, CellQuantity.VOLTAGE, 4300.0)]),
    Case(DiagId.CELL_UNDERVOLTAGE_MSL, [InjectCell(0, 0, CellQuantity.VOLTAGE, 2550.0)]),
    Case(DiagId.DEEP_DISCHARGE, [InjectCell(0, 15, CellQuantity.VOLTAGE, 1900.0)]),
    Case(DiagId.DISCHARGE_OVERTEMPERATURE_MSL,
         [InjectCell(1, 2, CellQuantity.TEMPERATURE, 65.0)]),
    Case(DiagId.DISCHARGE_UNDERTEMPERATURE_MSL,
         [InjectCell(1, 7, CellQuantity.TEMPERATURE, -25.0)]),
    Case(DiagId.CHARGE_OVERTEMPERATURE_MSL, [InjectCell(0, 1, CellQuantity.TEMPERATURE, 47.0)],
         prepare=lambda p: charging(normal(p))),
    Case(DiagId.CHARGE_UNDERTEMPERATURE_MSL,
         [InjectCell(0, 1, CellQuantity.TEMPERATURE, -1.0)],
         prepare=lambda p: charging(normal(p))),
    Case(DiagId.DISCHARGE_OVERCURRENT_MSL, [InjectCurrent(-60.0, 1.0)]),
    Case(DiagId.CHARGE_OVERCURRENT_MSL, [InjectCurrent(20.0, 1.0)]),
    Case(DiagId.PACK_VOLTAGE_PLAUSIBILITY, [InjectSensor(SensorFault.OFFSET_VOLTAGE, 0, 4.0)]),
    Case(DiagId.CURRENT_SENSOR_LOST, [InjectSensor(SensorFault.SILENCE)]),
    Case(DiagId.CURRENT_SENSOR_INVALID, [InjectSensor(SensorFault.FLAG_SYSTEM_ERROR)]),
    Case(DiagId.CURRENT_SENSOR_FLAGGED, [InjectSensor(SensorFault.FLAG_OVER_CURRENT)]),
    # a sensor deaf to its configuration at start: ERROR before anything closes
    Case(DiagId.CURRENT_SENSOR_SETUP_FAILED,
         overrides=("sensor.configure=true", 'sim.current_sensor.commands="mute"'),
         prepare=lambda p: p),
    Case(DiagId.SLAVE_LOST, [InjectSlave(1, SlaveFault.STOP)]),
    Case(DiagId.SLAVE_E2E, [InjectSlave(0, SlaveFault.BAD_CRC)]),
    Case(DiagId.SLAVE_AFE_FAULT, [InjectSlave(1, SlaveFault.AFE_FAULT)]),
    Case(DiagId.MEASUREMENT_INVALID, [InjectCell(0, 5, CellQuantity.INVALID)]),
    # readings repeated with the counters running stayed NORMAL in 4 of 4 tries
    Case(DiagId.SLAVE_FROZEN, [InjectSlave(1, SlaveFault.FREEZE)],
         overrides=("master.frozen_readings_s=2.0",)),
    # a forger's over-voltage in every other frame, each with the next alive counter: the
    # debounce of every reading never counted up (NORMAL, 443 E2E errors, no event)
    Case(DiagId.SLAVE_READINGS_FLIPPING,
         [InjectSlave(1, SlaveFault.ALTERNATE), InjectCell(1, 3, CellQuantity.VOLTAGE, 4320.0)]),
    # old readings with fresh noise: not frozen, but deaf to a load step (in a 2-module
    # pack of small cells the sum of cells leaves the pack voltage too, by 4 V: the
    # plausibility check is relaxed so that this entry is seen on its own)
    Case(DiagId.SLAVE_IGNORES_CURRENT,
         [InjectSlave(1, SlaveFault.NOISY_REPLAY), InjectCurrent(-20.0, 3.0)],
         overrides=("limits.pack_voltage_plausibility_v=20.0",
                    "limits.cell_voltage_spread_mv=1000.0"), within_s=8.0),
    Case(DiagId.VCU_LOST, [VcuCommand(silence_heartbeat_s=5.0)]),
    Case(DiagId.CONTACTOR_WELDED,
         [InjectContactor(ContactorId.MAIN_PLUS, ContactorFault.WELDED),
          VcuCommand(VcuCommandRequest.STANDBY)]),
    Case(DiagId.CONTACTOR_FAILED_TO_CLOSE,
         [InjectContactor(ContactorId.MAIN_MINUS, ContactorFault.FAILS_TO_CLOSE),
          VcuCommand(VcuCommandRequest.DRIVE)],
         overrides=('sim.vcu.request="standby"',),
         prepare=lambda p: (p.run_until(lambda: p.master.state is MasterState.STANDBY, 5), p)[1]),
    Case(DiagId.CONTACTOR_FEEDBACK_LOST, wire=cut_contactor_feedback),
    Case(DiagId.FUSE_BLOWN, [InjectCurrent(-700.0, 2.0)],
         overrides=("contactors.break_wait_s=1.0",)),
    Case(DiagId.PACK_BUS_OFF, wire=lambda p: p.error_frame(CAN_ERR_BUSOFF, bytes(8))),
    Case(DiagId.PRECHARGE_FAILED, [InjectCurrent(-2.0, 0)],
         overrides=("sim.vcu.start_delay_s=0.5", "contactors.precharge_pause_s=0.5"),
         prepare=lambda p: p, within_s=12.0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.entry.name.lower())
def test_every_fatal_entry_opens_the_contactors(case: Case) -> None:
    p = case.prepare(pack(*case.overrides))
    for fault in case.faults:
        p.inject(fault)
    if case.wire is not None:
        case.wire(p)
    p.run_until(lambda: p.master.state is MasterState.ERROR, case.within_s)
    list(p.run(0.5))
    assert p.master.machine.command == OPEN
    if case.entry is DiagId.CONTACTOR_WELDED:  # welded shut: the rest is open
        assert p.box.contactors == Contactors(main_plus=True)
    else:
        assert p.box.contactors == OPEN  # what the auxiliary contacts of the box say
    assert f"{case.entry.name.lower()}:set" in p.master.statistics.event_counts
    status = p.vcu.status
    assert status is not None
    assert status.state is MasterState.ERROR
    group = DEFAULT_TABLE[case.entry].group.value
    told = [s for _, s in p.vcu.status_changes if group in s.fault_groups]
    assert told, f"the VCU never saw the {group} fault"
    assert any(s.fault_reason for s in told)


def test_every_fatal_entry_has_a_case() -> None:
    fatal = {e for e, spec in DEFAULT_TABLE.items() if spec.severity is Severity.FATAL}
    assert fatal == {case.entry for case in CASES}


def test_warnings_do_not_open_the_contactors() -> None:
    p = normal(pack())
    p.inject(InjectCell(0, 3, CellQuantity.VOLTAGE, 4220.0))  # above RSL, below MSL
    p.inject(InjectCell(1, 0, CellQuantity.TEMPERATURE, 40.0))  # a 15 K spread
    list(p.run(3.0))
    assert p.master.state is MasterState.NORMAL
    status = p.vcu.status
    assert status is not None
    assert {"CellVoltage", "Plausibility"} <= status.warning_groups
    assert not status.fault_groups


def test_reset_after_the_cause_is_gone_and_service_reset_for_latched_faults() -> None:
    p = normal(pack())
    p.inject(InjectCell(0, 15, CellQuantity.VOLTAGE, 1900.0, duration_s=1.0))
    p.run_until(lambda: p.master.state is MasterState.ERROR, 3.0)
    list(p.run(2.0))  # the forced reading is over, but deep discharge latches
    p.inject(VcuCommand(reset_faults=True))
    list(p.run(1.0))
    assert p.master.state is MasterState.ERROR
    assert p.master.engine.is_active(DiagId.DEEP_DISCHARGE,
                                     p.master.engine.latched()[0][1])
    p.inject(VcuCommand(service_reset=True))
    list(p.run(1.0))
    p.inject(VcuCommand(reset_faults=True))
    p.run_until(lambda: p.master.state is MasterState.NORMAL, NORMAL_WITHIN_S)


def test_break_current_is_respected_in_the_plant() -> None:
    p = normal(pack("contactors.max_break_current_a=60"))
    p.inject(InjectCurrent(-80.0, 0.6))
    p.run_until(lambda: p.master.state is MasterState.ERROR, 2.0)
    opened_at = p.run_until(lambda: p.box.contactors == OPEN, 2.0)
    texts = [e.describe() for e in p.master.statistics.events]
    assert "opening deferred: 80 A is above the 60 A break limit" in texts
    assert 0.4 < opened_at < 0.7  # it waited for the injected current to end


def test_frames_on_the_wire_when_a_cell_goes_over_voltage() -> None:
    """The open command follows the frame that completes the debounce in the same step."""
    p = normal(pack())
    p.inject(InjectCell(1, 3, CellQuantity.VOLTAGE, 4300.0))
    seen: list[WireFrame] = []
    while p.master.state is not MasterState.ERROR:
        seen = p.step()
    opening = [w for w in seen if w.node == "Master"
               and w.frame.arbitration_id == pack_codec().layout("ContactorCommand").base_id
               and pack_codec().decode(w.frame).frame != ContactorCommand(CLOSED)]
    voltages = [w for w in seen if w.node == "Slave"]
    assert opening
    assert voltages
    assert seen.index(opening[0]) > seen.index(voltages[0])


def test_a_forger_between_genuine_frames_opens_the_contactors() -> None:
    """After each genuine CellVoltages frame of module 0 a node sends one of its own with
    the next alive counter and a 4320 mV cell: every other frame is REPEATED for the
    master. Counted +1/-1 that hid the over-voltage completely (NORMAL, no event)."""
    from dbc.codec import CanFrame
    from dbc.frames import CellVoltages

    p = normal(pack())
    codec = pack_codec()
    base = codec.layout_of(CellVoltages).base_id
    for _ in range(300):  # 3 s
        for item in p.step():
            frame = item.frame
            if item.node != "Slave" or frame.arbitration_id != base:
                continue
            genuine = codec.decode(frame).frame
            assert isinstance(genuine, CellVoltages)
            forged = CellVoltages(genuine.first_cell, (4320, *genuine.voltages_mv[1:]))
            counter = (frame.data[1] & 0x0F) + 1
            sent = codec.encode(forged, 0, counter % 15)
            p.master.on_pack_frame(CanFrame(sent.arbitration_id, sent.data), p.now_s)
        if p.master.state is MasterState.ERROR:
            break
    assert p.master.state is MasterState.ERROR
    assert any(e is DiagId.SLAVE_E2E for e, _, _ in p.master.engine.active())


def test_a_second_slave_on_the_same_module_id_is_a_fault() -> None:
    """A plausible assembly mistake: two slaves configured as module 0. Both send, their
    alive counters interleave; counted +1/-1 this ran for 18 s with no event."""
    from slave.afe.sim import SimAfe
    from slave.core import SlaveCore

    p = normal(pack())
    twin_afe = SimAfe(load_settings(None, ["pack.modules=2", "sim.cells.seed=7"]), 0, p.now_s)
    twin = SlaveCore(p.settings, 0, twin_afe, pack_codec(), p.now_s)
    p.slaves.append(twin)
    p.run_until(lambda: p.master.state is MasterState.ERROR, 5.0)
    assert any(e is DiagId.SLAVE_E2E for e, _, _ in p.master.engine.active())


def test_bleeding_nobody_asked_for_is_a_warning() -> None:
    """A forged BalancingCommand (within the slave's own limit) made a slave bleed: the
    master now flags bleeding it did not command. Here the slave takes the forger's command
    at every step (so the master's own commands, of no cells, never win)."""
    p = normal(pack('balancing.mode="off"'))
    for _ in range(100):  # 1 s
        p.slaves[1].balancing.command(0b1010, 60.0, p.now_s)
        p.step()
    assert p.master.engine.is_active(DiagId.SLAVE_BALANCING_UNREQUESTED, Location(1))
    assert p.master.state is MasterState.NORMAL  # a warning: it does not open
    assert not p.master.engine.is_active(DiagId.SLAVE_BALANCING_UNREQUESTED, Location(0))


def test_commanded_bleeding_is_not_flagged() -> None:
    p = normal(pack("balancing.threshold_mv=1", "sim.cells.initial_soc_spread_pct=10"))
    # while driving, balancing waits for a quiet moment (|I| <= balancing.max_current_a)
    p.run_until(lambda: any(s.balancing.active_mask(p.now_s) for s in p.slaves), 300.0)
    list(p.run(30.0))  # 30 s more, the planner commanding and the supervision watching
    assert DiagId.SLAVE_BALANCING_UNREQUESTED.name.lower() + ":set" not in \
        p.master.statistics.event_counts


KEY = bytes(range(16))


def keyed(*overrides: str) -> LockstepPack:
    p = pack(*overrides)
    p.master.contactor_key = KEY
    p.box.use_key(KEY)
    return p


def test_authenticated_commands_close_and_open_the_pack() -> None:
    p = normal(keyed())
    assert p.box.contactors == CLOSED
    assert p.box.refused_closes == 0
    p.inject(VcuCommand(VcuCommandRequest.STANDBY))
    p.run_until(lambda: p.master.state is MasterState.STANDBY, 5.0)
    p.run_until(lambda: p.box.contactors == OPEN, 2.0)


def test_a_forged_close_without_the_key_is_refused() -> None:
    """A forged ContactorCommand with valid E2E closed the box without precharge."""
    from dbc.frames import ContactorCommand

    p = keyed('sim.vcu.request="standby"')
    p.run_until(lambda: p.master.state is MasterState.STANDBY, 5.0)
    forged = ContactorCommand(CLOSED, auth_mac=0x12345678)  # E2E is public: assume it right
    for _ in range(100):
        p.box._obey(forged, p.now_s)
        p.step()
    assert p.box.contactors == OPEN
    assert p.box.refused_closes == 100


def test_a_recorded_close_does_not_verify_once_the_state_changed() -> None:
    from dbc.frames import ContactorCommand

    p = keyed()
    recorded: list[ContactorCommand] = []
    base = pack_codec().layout_of(ContactorCommand).base_id
    while p.master.state is not MasterState.NORMAL:
        for item in p.step():
            if item.frame.arbitration_id == base:
                command = pack_codec().decode(item.frame).frame
                assert isinstance(command, ContactorCommand)
                if command.contactors == CLOSED:
                    recorded.append(command)
        assert p.now_s < 10.0
    p.inject(VcuCommand(VcuCommandRequest.STANDBY))
    p.run_until(lambda: p.box.contactors == OPEN, 5.0)
    p.run_until(lambda: p.master.state is MasterState.STANDBY, 5.0)
    p.box._obey(recorded[-1], p.now_s)  # the master's own, replayed
    list(p.run(0.5))
    assert p.box.contactors == OPEN
    assert p.box.refused_closes >= 1


def test_opening_needs_no_mac() -> None:
    from dbc.frames import ContactorCommand

    p = normal(keyed())
    p.box._obey(ContactorCommand(OPEN), p.now_s)  # unauthenticated, but it only opens
    list(p.run(0.2))
    assert p.box.contactors == OPEN


def test_without_a_key_a_forged_close_is_obeyed() -> None:
    """The default (no key): what docs/security.md says plainly."""
    from dbc.frames import ContactorCommand

    p = pack('sim.vcu.request="standby"')
    p.run_until(lambda: p.master.state is MasterState.STANDBY, 5.0)
    for _ in range(30):
        p.box._obey(ContactorCommand(CLOSED), p.now_s)
        p.step()
    assert p.box.contactors == CLOSED
