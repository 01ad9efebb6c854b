"""The simulated inverters on their own: what they accept, when they move current."""

from __future__ import annotations

from pathlib import Path

from bms.settings import load_settings
from dbc.codec import inverter_codec
from dbc.frames import Frame, MasterState
from dbc.inverter_byd_hvs_frames import (
    BydInverterIdentity,
    BydLimits,
    BydManufacturer,
    product_name_frames,
)
from dbc.inverter_frames import InverterKeepAlive, InverterLimits, PylonRequests
from dbc.inverter_pylon_hv_frames import PylonHvLimits, PylonHvManufacturer, PylonHvRequest
from sim.inverter import CanBmsInverterSim
from sim.inverter_byd_hvs import BydHvsInverterSim
from sim.inverter_pylon_hv import PylonHvInverterSim
from sim.lockstep import LockstepPack

REPO = Path(__file__).resolve().parents[2]
LV = REPO / "deploy/packs/home-storage-lv.toml"
HV = REPO / "deploy/packs/home-storage-profile.toml"
DISCHARGE = "sim.inverter.profile=[{duration_s=100.0,current_c=-0.5}]"


def feed(sim: CanBmsInverterSim | BydHvsInverterSim | PylonHvInverterSim, frame: Frame,
         now_s: float) -> None:
    sim.on_frame(inverter_codec(sim.PROTOCOL).encode(frame), now_s)


def output_at(sim: CanBmsInverterSim | BydHvsInverterSim | PylonHvInverterSim,
              now_s: float) -> float:
    sim.tick(now_s)
    return sim.current_a


def test_a_sunny_island_drops_limits_outside_its_range() -> None:
    sim = CanBmsInverterSim(load_settings(LV, [DISCHARGE]), 0.0)
    feed(sim, InverterLimits(56.8, 30.0, 200.0, 44.8), 0.0)  # 200 A: ignored
    feed(sim, InverterLimits(227.2, 30.0, 40.0, 179.2), 0.1)  # 227 V: ignored
    assert sim.statistics.limits_rejected == 2
    assert output_at(sim, 0.2) == 0.0
    feed(sim, InverterLimits(56.8, 30.0, 40.0, 44.8), 0.3)
    assert output_at(sim, 0.4) == -40.0  # it wants 50 A, 40 A are allowed
    feed(sim, PylonRequests(True, False), 0.5)
    assert output_at(sim, 0.6) == 0.0  # discharge no longer enabled
    assert sim.own_frames(1.0) == [InverterKeepAlive()]


def test_the_byd_inverter_moves_nothing_before_the_battery_said_who_it_is() -> None:
    sim = BydHvsInverterSim(load_settings(HV, [DISCHARGE]), 0.0)
    first = sim.own_frames(0.0)
    assert first[0] == BydInverterIdentity(True)  # it asks for the identity at its start
    feed(sim, BydLimits(227.2, 179.2, 30.0, 40.0), 0.1)
    assert output_at(sim, 0.2) == 0.0  # limits, but no identity yet
    assert sim.own_frames(5.0)[0] == BydInverterIdentity(False, "SIM-INV")  # its name
    assert sim.own_frames(10.0)[0] == BydInverterIdentity(True)  # asks again after 10 s
    feed(sim, BydManufacturer(), 10.1)
    for part in product_name_frames():
        feed(sim, part, 10.1)
    assert sim.ready()
    feed(sim, BydLimits(227.2, 179.2, 30.0, 40.0), 10.2)
    assert output_at(sim, 10.3) == -40.0
    assert sim.own_frames(20.0)[0] == BydInverterIdentity(False, "SIM-INV")
    assert output_at(sim, 16.3) == 0.0  # 6 s (three of 0x110's periods) without limits


def test_the_pylon_inverter_wants_a_pylontech() -> None:
    sim = PylonHvInverterSim(load_settings(HV, [DISCHARGE, "endpoints.inverter=pylon_hv"]), 0.0)
    assert [type(f) for f in sim.own_frames(0.0)] == [PylonHvRequest, PylonHvRequest]
    assert [type(f) for f in sim.own_frames(1.0)] == [PylonHvRequest]  # ensemble only
    feed(sim, PylonHvManufacturer("ACME"), 1.1)
    feed(sim, PylonHvLimits(227.2, 179.2, 30.0, 40.0), 1.1)
    assert output_at(sim, 1.2) == 0.0
    feed(sim, PylonHvManufacturer("PYLON"), 1.3)
    assert output_at(sim, 1.4) == -40.0


def test_with_another_manufacturer_a_deye_kind_pylon_inverter_never_starts() -> None:
    # why endpoints.manufacturer defaults to PYLON
    p = LockstepPack(load_settings(HV, [DISCHARGE, "endpoints.inverter=pylon_hv",
                                        "endpoints.manufacturer=pybms"]))
    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    list(p.run(15.0))
    assert p.inverter is not None
    assert not p.inverter.ready()
    assert p.inverter.statistics.max_discharge_a == 0.0
