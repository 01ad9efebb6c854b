"""The soak and chaos run (bench/soak.py) for a few minutes: a fault every 20 s, each with
its reaction and the return to NORMAL, the master's memory bounded, every stored event on
MQTT and the journal equal to the store. BMS_SOAK_S sets the length (150 s by default; the
documented run is an hour: `./run bench soak --seconds 3600`)."""

from __future__ import annotations

import os

import pytest

from bench.soak import soak

pytestmark = pytest.mark.multiprocess
SECONDS = float(os.environ.get("BMS_SOAK_S", "150"))


async def test_the_pack_survives_a_random_fault_every_20_s() -> None:
    result = await soak(SECONDS, seed=int(os.environ.get("BMS_SOAK_SEED", "26")))
    assert result["faults"] >= int(SECONDS // 20) - 1
    assert result["failed"] == []
    failed = [check for check, held in result["checks"].items() if not held]
    assert failed == [], result


def test_the_catalogue_has_every_slave_and_sensor_fault() -> None:
    from bench.soak import CATALOGUE
    from dbc.sim_frames import InjectSensor, InjectSlave, SensorFault, SlaveFault

    injected = [frame for fault in CATALOGUE for frame in fault.inject]
    slave = {f.action for f in injected if isinstance(f, InjectSlave)}
    sensor = {f.action for f in injected if isinstance(f, InjectSensor)}
    assert slave == set(SlaveFault) - {SlaveFault.RESUME}
    assert sensor == set(SensorFault) - {SensorFault.RESUME}
