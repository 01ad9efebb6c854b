"""The charger and the inverter as processes of `bms pack` (udp_multicast, in a private
network namespace): the EV profile charges, the home-storage profile feeds an inverter."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from dbc.frames import MasterState
from testbed.packs import finish, online_pack
from testbed.waiting import wait_until

pytestmark = pytest.mark.multiprocess

CHARGE_EXTRA = """[endpoints]
charger = "elcon"

[sim.vcu]
request = "charge"
start_delay_s = 0.5
"""

# inside [pack]: 2 x 8 LFP cells, the CAN-BMS protocol's 48 V class
STORAGE_EXTRA = """cells_per_module = 8
chemistry = "LFP"

[endpoints]
vcu = false
request_without_vcu = "drive"
inverter = "can_bms"

[sim.inverter]
profile = [{ duration_s = 60.0, current_c = -0.5 }]
"""


async def test_the_charger_process_charges_the_pack(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 2, extra=CHARGE_EXTRA) as pack:
        observer = pack.observer
        await wait_until(lambda: observer.master_state is MasterState.CHARGE, 10.0,
                         "the master in CHARGE")
        await wait_until(lambda: (observer.current_a or 0.0) > 1.0, 10.0,
                         "the charger's current through the sensor")
        assert observer.by_vehicle_message["ElconCommand"] > 0
        assert observer.by_vehicle_message["ElconStatus"] > 0
        assert "charger" in pack.pids()
        pack.process.send_signal(signal.SIGINT)
        code, output = await finish(pack.process)
    assert code == 0, output


async def test_the_inverter_process_follows_the_master(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 2, extra=STORAGE_EXTRA) as pack:
        observer = pack.observer
        await wait_until(lambda: observer.master_state is MasterState.NORMAL, 10.0,
                         "the master closes without a VCU")
        await wait_until(lambda: (observer.current_a or 0.0) < -1.0, 10.0,
                         "the inverter discharging the pack")
        # without a VCU the inverter shares the vehicle bus: its frames, no vehicle frame
        await wait_until(lambda: observer.by_inverter_message["InverterKeepAlive"] >= 2, 5.0,
                         "the inverter's keep-alive")
        for name in ("InverterLimits", "InverterSoc", "InverterMeasurements", "PylonAlarms",
                     "SmaAlarms", "PylonRequests", "Manufacturer", "BatteryInfo"):
            assert observer.by_inverter_message[name] > 0, name
        assert observer.by_vehicle_message["BmsSoc"] == 0
        assert "vcu" not in pack.pids()
        pack.process.send_signal(signal.SIGINT)
        code, output = await finish(pack.process)
    assert code == 0, output
