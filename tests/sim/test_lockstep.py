"""The lockstep harness's own wiring (the nodes' behaviour is tested with their cores)."""

from __future__ import annotations

from bms.settings import load_settings
from dbc.codec import pack_codec
from dbc.frames import MasterState
from dbc.ivt import IvtCurrent
from dbc.sim_frames import InjectCurrent, InjectSensor, SensorFault
from sim.lockstep import LockstepPack
from slave.core import SlaveCore

# a sensor with both errors: what the master reads is not what flows
SENSOR_ERRORS = ["pack.modules=2", "sim.current_sensor.offset_a=0.05",
                 "sim.current_sensor.gain_error_pct=0.5"]


def test_the_cells_carry_the_current_the_box_lets_flow_not_the_sensors_reading() -> None:
    pack = LockstepPack(load_settings(None, SENSOR_ERRORS))
    pack.run_until(lambda: pack.master.state is MasterState.NORMAL, 10.0)
    pack.inject(InjectCurrent(-23.4, 2.0))
    pack.run_until(lambda: abs(pack.box.current_a + 23.4) < 0.1, 1.0)
    list(pack.run(0.5))
    flowing_a = pack.box.current_a
    measured = pack.master.pack_current_a
    assert measured is not None
    assert abs(measured.value - flowing_a) > 0.1  # the sensor's errors: 0.5 % of 23 A
    for afe in (slave.afe for slave in pack.slaves):
        assert afe._pack_current_a == flowing_a  # exactly: not through the sensor's frames


def test_no_slave_hears_the_current_sensor_in_the_harness() -> None:
    pack = LockstepPack(load_settings(None, ["pack.modules=2"]))
    current_id = pack_codec().layout_of(IvtCurrent).base_id
    listeners = pack.wires.targets("pack", current_id)
    assert listeners  # the master hears it
    assert not [listener for listener in listeners
                if isinstance(getattr(listener, "__self__", None), SlaveCore)]


def test_the_cells_follow_the_current_while_the_sensor_is_silent() -> None:
    pack = LockstepPack(load_settings(None, ["pack.modules=2"]))
    pack.run_until(lambda: pack.master.state is MasterState.NORMAL, 10.0)
    pack.inject(InjectSensor(SensorFault.SILENCE, 1.0))
    pack.inject(InjectCurrent(-12.0, 1.0))  # a step the sensor does not report
    pack.run_until(lambda: abs(pack.box.current_a + 12.0) < 0.1, 0.1)  # before any timeout
    for afe in (slave.afe for slave in pack.slaves):
        assert afe._pack_current_a == pack.box.current_a
