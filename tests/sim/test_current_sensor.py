"""The simulated IVT-S sensor: periods, counters, U1 from the cells, integrals, faults."""

import pytest

from bms.settings import load_settings
from dbc.codec import pack_codec
from dbc.endpoint import FrameSender
from dbc.frames import CellVoltages
from dbc.ivt import IvtCharge, IvtCurrent, IvtFlag, IvtVoltage1
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
