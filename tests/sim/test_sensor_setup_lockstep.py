"""The IVT-S configured at start (`[sensor] configure`), in the whole virtual pack on virtual
time: the sequence on the wire, NORMAL with a sensor left little-endian, and a mute or
unconfigurable sensor broken on purpose: the fault, and contactors that never close."""

from __future__ import annotations

import pytest

from bms.settings import load_settings
from dbc.codec import pack_codec
from dbc.frames import OPEN, ContactorCommand, MasterState
from dbc.ivt import IvtResultConfig
from master.diagnosis.table import DiagId
from master.events import PACK
from master.sensor_setup import SetupState, setup_steps
from sim.lockstep import LockstepPack, WireFrame

CODEC = pack_codec()
COMMAND_ID = CODEC.layout_of(IvtResultConfig).base_id
REPLY_ID = CODEC.layout("IVT_Msg_Response").base_id
CONTACTOR_COMMAND_ID = CODEC.layout_of(ContactorCommand).base_id
LITTLE_ENDIAN = 'sim.current_sensor.byte_order="little"'


def pack(*overrides: str) -> LockstepPack:
    return LockstepPack(load_settings(None, ["pack.modules=2", *overrides]))


def run(p: LockstepPack, seconds: float) -> list[WireFrame]:
    return list(p.run(seconds))


def test_configured_it_reaches_normal_after_the_sequence_on_the_wire() -> None:
    p = pack("sensor.configure=true")
    wire: list[WireFrame] = []
    while p.master.state is not MasterState.NORMAL:
        wire += p.step()
        assert p.now_s < 10.0
    commands = [w for w in wire if w.frame.arbitration_id == COMMAND_ID]
    replies = [w for w in wire if w.frame.arbitration_id == REPLY_ID]
    assert [w.node for w in commands] == ["Master"] * 11
    assert [w.node for w in replies] == ["IVT_S"] * 11
    assert [CODEC.decode(w.frame).frame for w in commands] == \
        [step.command for step in setup_steps(p.settings.sensor)]
    assert p.master.sensor_setup is not None
    assert p.master.sensor_setup.state is SetupState.DONE
    closing = [w for w in wire if w.frame.arbitration_id == CONTACTOR_COMMAND_ID
               and CODEC.decode(w.frame).frame != ContactorCommand(OPEN)]
    assert wire.index(closing[0]) > wire.index(replies[-1])  # nothing closed before
    later = run(p, 2.0)
    assert p.master.state is MasterState.NORMAL
    assert not [w for w in later if w.frame.arbitration_id == COMMAND_ID]  # at start only


def test_a_sensor_left_little_endian_is_set_right_and_read_right() -> None:
    p = pack("sensor.configure=true", LITTLE_ENDIAN)
    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    run(p, 1.0)
    assert all(not mode.little_endian for mode in p.box.sensor.modes)
    report = p.master.status(p.now_s)
    assert report.current_a == pytest.approx(p.box.current_a, abs=0.01)
    # U1: 1 mV a step, up to 100 ms old
    assert report.voltage_v == pytest.approx(p.box.sensor.battery_voltage_v(), abs=0.2)


def test_unconfigured_a_little_endian_sensor_is_misread() -> None:
    """The issue: without the setup the master reads the little-endian bytes big-endian
    (U1 of 123 V as -1.39 million volts) and never gets the pack going."""
    p = pack(LITTLE_ENDIAN)
    run(p, 0.5)
    assert abs(p.master.status(p.now_s).voltage_v) > 1_000_000
    p.run_until(lambda: p.master.state is MasterState.ERROR, 10.0)
    assert p.master.engine.is_active(DiagId.PACK_VOLTAGE_PLAUSIBILITY, PACK)


def test_unconfigured_nothing_is_sent_to_the_sensor() -> None:
    p = pack()
    wire = run(p, 3.0)
    assert not [w for w in wire if w.frame.arbitration_id in (COMMAND_ID, REPLY_ID)]
    assert p.master.state is MasterState.NORMAL


@pytest.mark.parametrize(("commands", "failure"), [
    ("mute", "no reply to stop within 0.5 s (3 tries)"),
    ("ignore", "stop: the sensor answered running, not stopped (3 tries)"),
])
def test_a_sensor_that_does_not_take_its_configuration_never_closes_anything(
        commands: str, failure: str) -> None:
    """Broken on purpose: the sensor stays little-endian, deaf to the commands or answering
    with its own configuration. The VCU asks for drive all along."""
    p = pack("sensor.configure=true", LITTLE_ENDIAN, f'sim.current_sensor.commands="{commands}"')
    closed = []
    for _ in range(800):  # 8 s, past the VCU's request and the start-up grace
        for item in p.step():
            if item.frame.arbitration_id == CONTACTOR_COMMAND_ID:
                sent = CODEC.decode(item.frame).frame
                assert isinstance(sent, ContactorCommand)
                closed.append(sent.contactors != OPEN)
        assert p.box.contactors == OPEN
    assert closed  # commands were sent all along: every one of them to open
    assert not any(closed)
    assert p.master.state is MasterState.ERROR
    assert p.master.engine.is_active(DiagId.CURRENT_SENSOR_SETUP_FAILED, PACK)
    assert p.master.error_cause is DiagId.CURRENT_SENSOR_SETUP_FAILED
    assert p.master.sensor_setup is not None
    assert p.master.sensor_setup.failure == failure
    assert p.master.sensor_setup.results_ignored > 0  # it was sending, little-endian
    status = p.vcu.status
    assert status is not None
    assert status.fault_reason == DiagId.CURRENT_SENSOR_SETUP_FAILED
    assert "CurrentSensor" in status.fault_groups
    # the current was never trusted: nothing of a misread +419 kA reached the checks
    report = p.master.status(p.now_s)
    assert report.current_measured_a is None
    assert p.master.closing_blocked() == "the current sensor is not configured"
    assert not p.master.engine.has_state(DiagId.CHARGE_OVERCURRENT_MSL, PACK)


def test_a_fault_reset_does_not_clear_it() -> None:
    from dbc.sim_frames import VcuCommand

    p = pack("sensor.configure=true", 'sim.current_sensor.commands="mute"')
    p.run_until(lambda: p.master.state is MasterState.ERROR, 5.0)
    p.inject(VcuCommand(reset_faults=True))
    run(p, 1.0)
    assert p.master.state is MasterState.ERROR
    texts = [e.describe() for e in p.master.statistics.events]
    assert "fault reset refused: a fatal cause remains" in texts
