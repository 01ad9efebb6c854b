"""The lockstep harness's own wiring (the nodes' behaviour is tested with their cores)."""

from __future__ import annotations

import pytest

from bms.settings import load_settings
from dbc.codec import pack_codec, sim_codec
from dbc.frames import CellVoltages, Frame, MasterState
from dbc.ivt import IvtCurrent
from dbc.sim_frames import (
    CellQuantity,
    InjectCell,
    InjectCurrent,
    InjectSensor,
    InjectSlave,
    LoadDemand,
    SensorFault,
)
from sim.hv_box import HvBox
from sim.lockstep import LockstepPack
from sim.slave_faults import SlaveFaults
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
    for afe in pack.afes:
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
    for afe in pack.afes:
        assert afe._pack_current_a == pack.box.current_a


def test_the_box_sensor_reads_the_cells_true_voltage_not_their_frames() -> None:
    pack = LockstepPack(load_settings(None, ["pack.modules=2"]))
    pack.run_until(lambda: pack.master.state is MasterState.NORMAL, 10.0)
    pack.inject(InjectCell(1, 3, CellQuantity.VOLTAGE, 2500.0, 5.0))  # a measurement fault
    list(pack.run(1.0))
    measured_v = sum(sum(v for v in slave._last.cell_voltages_mv if v is not None)
                     for slave in pack.slaves if slave._last is not None) / 1000.0
    true_v = sum(afe.module_voltage_v for afe in pack.afes)
    assert pack.box.sensor.battery_voltage_v() == pytest.approx(true_v, abs=1e-9)
    assert measured_v < true_v - 0.5  # the forced cell is in the slave's frames, not in U1
    voltage_id = pack_codec().layout_of(CellVoltages).base_id
    assert not [listener for module in range(2)
                for listener in pack.wires.targets("pack", voltage_id + module)
                if isinstance(getattr(listener, "__self__", None), HvBox)]


def test_a_slave_hears_only_the_injections_of_the_simulation_bus() -> None:
    pack = LockstepPack(load_settings(None, ["pack.modules=2"]))
    codec = sim_codec()

    def slaves_hearing(frame_type: type[Frame]) -> int:
        """The virtual slaves' fault injectors among the listeners (the slave cores
        themselves hear nothing of the simulation bus)."""
        listeners = pack.wires.targets("sim", codec.layout_of(frame_type).base_id)
        assert not any(isinstance(getattr(listener, "__self__", None), SlaveCore)
                       for listener in listeners)
        return sum(isinstance(getattr(listener, "__self__", None), SlaveFaults)
                   for listener in listeners)

    assert slaves_hearing(InjectCell) == slaves_hearing(InjectSlave) == 2
    assert slaves_hearing(LoadDemand) == 0  # ten a second, for the box
