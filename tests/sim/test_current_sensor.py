"""The simulated IVT-S sensor: periods, counters, U1 from the cells, integrals, faults; the
commands that configure it."""

import pytest

from bms.settings import load_settings
from dbc.codec import CanFrame, pack_codec
from dbc.endpoint import FrameSender
from dbc.frames import CellVoltages
from dbc.ivt import (
    IvtCharge,
    IvtCommandRefused,
    IvtCurrent,
    IvtFlag,
    IvtModeReply,
    IvtQuantity,
    IvtResultConfig,
    IvtResultConfigReply,
    IvtSetMode,
    IvtStore,
    IvtStoreReply,
    IvtTrigger,
    IvtVoltage1,
)
from sim.current_profile import CurrentProfile
from sim.current_sensor import CurrentSensorSim


def test_profile_repeats() -> None:
    settings = load_settings(None, ["sim.vcu.profile=[{duration_s=2, current_c=-1},"
                                    "{duration_s=1, current_c=0.5}]"])
    profile = CurrentProfile(settings.sim.vcu.profile, capacity_ah=5.0)
    assert [profile.current_a(t) for t in (0.0, 1.99, 2.0, 2.99, 3.0, 5.5)] == \
        [-5, -5, 2.5, 2.5, -5, 2.5]


def test_frames_periods_counters_and_integrals() -> None:
    codec = pack_codec()
    sensor = CurrentSensorSim(load_settings(), now_s=0.0)
    sensor.current_a = -20.0
    slave = FrameSender(codec)
    sensor.on_frame(slave.encode(CellVoltages(0, (3700, 3700, 3700, 3700)), 0), 0.0)
    sensor.on_frame(slave.encode(CellVoltages(0, (3600, 3600, 3600, 3600)), 1), 0.0)
    frames = [codec.decode(f).frame for step in range(101) for f in sensor.tick(step / 100)]
    currents = [f for f in frames if isinstance(f, IvtCurrent)]
    voltages = [f for f in frames if isinstance(f, IvtVoltage1)]
    assert len(currents) == 101
    assert len(voltages) == 11
    assert {f.current_ma for f in currents} == {-20_000}
    assert [f.counter for f in currents[:17]] == [*range(16), 0]
    assert voltages[-1].voltage_mv == 4 * 3700 + 4 * 3600
    charge = [f for f in frames if isinstance(f, IvtCharge)][-1]
    assert charge.charge_as == pytest.approx(-20, abs=1)  # one second at -20 A


def test_silence_flags_and_offset() -> None:
    codec = pack_codec()
    sensor = CurrentSensorSim(load_settings(), now_s=0.0)
    sensor.silent = True
    assert sensor.tick(0.0) == []
    sensor.silent, sensor.flags, sensor.voltage_offset_v = False, IvtFlag.SYSTEM_ERROR, 4.0
    frames = [codec.decode(f).frame for f in sensor.tick(0.2)]
    assert all(f.flags == IvtFlag.SYSTEM_ERROR for f in frames)  # type: ignore[attr-defined]
    (u1,) = [f for f in frames if isinstance(f, IvtVoltage1)]
    assert u1.voltage_mv == 4000


def test_only_the_packs_modules_add_to_the_battery_voltage() -> None:
    """The simulated IVT summed the cells of module ids outside the pack too."""
    sensor = CurrentSensorSim(load_settings(None, ["pack.modules=2"]), now_s=0.0)
    sender = FrameSender(pack_codec())
    for module in (0, 1, 5):  # module 5: a node the 2-module pack does not have
        sensor.on_frame(sender.encode(CellVoltages(0, (3700, 3700, 3700, 3700)), module), 0.0)
    assert sensor.battery_voltage_v() == pytest.approx(2 * 4 * 3.7)


# --- the commands that configure it ------------------------------------------------------


def command(frame: object) -> CanFrame:
    return pack_codec().encode(frame)  # type: ignore[arg-type]


def decoded(frames: list[CanFrame]) -> list[object]:
    return [pack_codec().decode(f).frame for f in frames]


def test_it_answers_and_applies_the_configuration() -> None:
    sensor = CurrentSensorSim(load_settings(), now_s=0.0)
    sensor.current_a = -1.0
    sensor.tick(0.0)
    sensor.on_command(command(IvtSetMode(run=False)), 0.001)
    assert decoded(sensor.tick(0.01)) == [IvtModeReply(run=False)]  # and no results
    sensor.on_command(command(IvtResultConfig(IvtQuantity.I, IvtTrigger.CYCLIC, 20)), 0.011)
    sensor.on_command(command(IvtResultConfig(IvtQuantity.U1, IvtTrigger.DISABLED, 0)), 0.012)
    sensor.on_command(command(IvtStore()), 0.013)
    assert decoded(sensor.tick(0.02)) == [
        IvtResultConfigReply(IvtQuantity.I, IvtTrigger.CYCLIC, 20),
        IvtResultConfigReply(IvtQuantity.U1, IvtTrigger.DISABLED, 0), IvtStoreReply()]
    assert sensor.stored == 1
    sensor.on_command(command(IvtSetMode(run=True)), 0.021)
    frames = [f for step in range(3, 103) for f in decoded(sensor.tick(step / 100))]
    assert frames[0] == IvtModeReply(run=True)
    currents = [f for f in frames if isinstance(f, IvtCurrent)]
    assert len(currents) == 50  # every 20 ms now
    assert {f.current_ma for f in currents} == {-1000}
    assert not [f for f in frames if isinstance(f, IvtVoltage1)]  # switched off


def test_it_refuses_a_configuration_while_running() -> None:
    sensor = CurrentSensorSim(load_settings(), now_s=0.0)
    sensor.on_command(command(IvtResultConfig(IvtQuantity.I, IvtTrigger.CYCLIC, 20)), 0.0)
    assert decoded(sensor.tick(0.0))[0] == IvtCommandRefused(0x20)
    assert sensor.modes[0].period_s == 0.01


def test_a_sensor_left_little_endian_sends_the_value_bytes_reversed() -> None:
    settings = load_settings(None, ['sim.current_sensor.byte_order="little"'])
    sensor = CurrentSensorSim(settings, now_s=0.0)
    sensor.current_a = -1.0
    (current,) = [f for f in sensor.tick(0.0) if f.arbitration_id == 0x521]
    assert current.data[2:].hex(" ") == "18 fc ff ff"
    misread = pack_codec().decode(current).frame
    assert isinstance(misread, IvtCurrent)
    assert misread.current_ma == 419_233_791  # what a master that does not configure it reads
    sensor.on_command(command(IvtSetMode(run=False)), 0.001)
    sensor.on_command(command(IvtResultConfig(IvtQuantity.I, IvtTrigger.CYCLIC, 10)), 0.002)
    sensor.on_command(command(IvtSetMode(run=True)), 0.003)
    (current,) = [f for f in sensor.tick(0.01) if f.arbitration_id == 0x521]
    assert pack_codec().decode(current).frame == IvtCurrent(1, IvtFlag.NONE, -1000)


def test_a_mute_sensor_does_not_answer_and_an_ignoring_one_answers_unchanged() -> None:
    mute = CurrentSensorSim(load_settings(None, ['sim.current_sensor.commands="mute"']), 0.0)
    mute.on_command(command(IvtSetMode(run=False)), 0.0)
    assert not [f for f in mute.tick(0.0) if f.arbitration_id == 0x511]
    assert mute.running
    settings = load_settings(None, ['sim.current_sensor.commands="ignore"',
                                    'sim.current_sensor.byte_order="little"'])
    ignoring = CurrentSensorSim(settings, 0.0)
    ignoring.on_command(command(IvtSetMode(run=False)), 0.0)
    ignoring.on_command(command(IvtResultConfig(IvtQuantity.I, IvtTrigger.CYCLIC, 10)), 0.0)
    replies = [f for f in decoded(ignoring.tick(0.0)) if not isinstance(f, IvtCurrent)]
    assert replies[:2] == [IvtModeReply(run=True),
                           IvtResultConfigReply(IvtQuantity.I, IvtTrigger.CYCLIC, 10,
                                                little_endian=True)]


def test_a_silenced_sensor_answers_nothing_either() -> None:
    sensor = CurrentSensorSim(load_settings(), now_s=0.0)
    sensor.on_command(command(IvtSetMode(run=False)), 0.0)
    sensor.silent = True
    assert sensor.tick(0.0) == []
    sensor.silent = False
    assert sensor.tick(0.01) == []  # the reply is gone, and it is stopped
