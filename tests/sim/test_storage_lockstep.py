"""The two storage profiles through a compressed storage day in the lockstep pack, each with
its inverter simulator: the handshake done, both directions used, the current never beyond
the limits last sent, no fault; and the bus separation (no vehicle frame on the inverter's
bus without a VCU, each protocol on its own bus with one)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from bms.settings import load_settings
from dbc.codec import inverter_codec, vehicle_codec
from dbc.frames import Frame, MasterState
from dbc.inverter_byd_hvs_frames import BydLimits
from dbc.inverter_frames import InverterLimits
from dbc.inverter_pylon_hv_frames import PylonHvLimits
from master.diagnosis.table import Severity
from master.inverter_byd_hvs import BydHvsEndpoint
from master.inverter_pylon_hv import PylonHvEndpoint
from sim.lockstep import LockstepPack, WireFrame

REPO = Path(__file__).resolve().parents[2]
LV = REPO / "deploy/packs/home-storage-lv.toml"
HV = REPO / "deploy/packs/home-storage-profile.toml"
# a day in ten minutes (C, positive charges): sunrise, sun, a cloud, full sun, a rest, the
# evening with a peak (kettle and oven: above what the LV inverter takes), the night
DAY = ("sim.inverter.profile=["
       "{duration_s=60.0,current_c=0.1},{duration_s=120.0,current_c=0.3},"
       "{duration_s=30.0,current_c=0.05},{duration_s=120.0,current_c=0.35},"
       "{duration_s=30.0,current_c=0.0},{duration_s=30.0,current_c=-2.0},"
       "{duration_s=150.0,current_c=-0.25},{duration_s=60.0,current_c=-0.05}]")
DAY_S = 600.0
LIMITS = (InverterLimits, BydLimits, PylonHvLimits)
VEHICLE_IDS = {layout.base_id for layout in vehicle_codec().layouts.values()}


@dataclass
class Day:
    pack: LockstepPack
    charge_a: float = 0.0  # the largest current each way
    discharge_a: float = 0.0
    limit_frames: int = 0
    worst_excess_a: float = 0.0  # beyond the limits last sent: must stay 0


def allowed_a(limits: Frame, charging: bool) -> float:
    assert isinstance(limits, LIMITS)
    return limits.charge_current_a if charging else limits.discharge_current_a


def storage_day(profile: Path, *overrides: str) -> Day:
    p = LockstepPack(load_settings(profile, [DAY, *overrides]))
    codec = inverter_codec(p.settings.endpoints.inverter)
    # the inverter sets its current once per output period: a lower limit holds from then on
    lag_s = p.settings.sim.inverter.output_period_s + 2 * p.step_s
    day = Day(p)
    sent: list[tuple[float, Frame]] = []  # the limits frames, newest last
    end = p.now_s + DAY_S
    while p.now_s < end:
        for item in p.step():
            if item.bus == p.inverter_wire and item.node == "Master":
                decoded = codec.decode(item.frame).frame
                if isinstance(decoded, LIMITS):
                    sent = [*sent[-1:], (item.time_s, decoded)]
                    day.limit_frames += 1
        current_a = p.box.current_a
        day.charge_a, day.discharge_a = max(day.charge_a, current_a), \
            max(day.discharge_a, -current_a)
        in_force = [f for t, f in sent if p.now_s - t >= lag_s] or [sent[0][1]] if sent else []
        if sent and p.now_s - sent[-1][0] < lag_s:
            in_force = [f for _, f in sent]  # the newest is on its way: either one holds
        allowed = max((allowed_a(f, current_a > 0) for f in in_force), default=0.0)
        closed = p.box.contactors.main_plus and p.box.contactors.main_minus
        if closed:  # (while precharging, the DC link's current flows, not the inverter's)
            day.worst_excess_a = max(day.worst_excess_a, abs(current_a) - allowed)
        assert not p.master.engine.active(Severity.FATAL), p.master.engine.active()
    return day


@functools.cache
def day_of(protocol: str) -> Day:
    """The day of the profile of this protocol's voltage class (run once per session)."""
    return storage_day(LV if protocol == "can_bms" else HV, f"endpoints.inverter={protocol}")


@pytest.mark.parametrize("protocol", ["can_bms", "byd_hvs", "pylon_hv"])
def test_a_storage_day_within_the_limits(protocol: str) -> None:
    day = day_of(protocol)
    p = day.pack
    assert p.inverter is not None
    assert p.inverter.ready()  # the handshake (identity) was done
    assert p.inverter.statistics.limits_rejected == 0  # it accepted every limit it was sent
    assert day.limit_frames > 0
    capacity_a = p.settings.pack.cell_capacity_ah
    assert day.charge_a >= 0.3 * capacity_a - 0.01  # the sun charged
    assert day.discharge_a > 0.25 * capacity_a  # the house discharged
    assert day.worst_excess_a <= 1e-6  # never beyond the limits
    assert p.master.state is MasterState.NORMAL


def test_the_lv_peak_is_held_at_what_a_sunny_island_accepts() -> None:
    # 2 C would be 200 A (the HV inverters move it): 0x351 said 120 A
    assert day_of("can_bms").discharge_a == pytest.approx(120.0)
    assert day_of("byd_hvs").discharge_a == pytest.approx(200.0)


def test_the_byd_identity_and_the_pylon_answers_were_sent() -> None:
    byd = day_of("byd_hvs").pack.master.endpoints.inverter
    assert isinstance(byd, BydHvsEndpoint)
    assert byd.identities_sent >= 1
    pylon = day_of("pylon_hv").pack.master.endpoints.inverter
    assert isinstance(pylon, PylonHvEndpoint)
    assert sum(pylon.answered.values()) > DAY_S * 0.9  # one ensemble a second and more


def wire_frames(p: LockstepPack, seconds: float) -> list[WireFrame]:
    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    return list(p.run(seconds))


def test_no_vehicle_frame_on_the_inverter_bus_without_a_vcu() -> None:
    p = LockstepPack(load_settings(LV))
    assert p.inverter_wire == "vehicle"  # no VCU: the inverter is on the vehicle bus
    frames = wire_frames(p, 5.0)
    on_its_bus = {f.frame.arbitration_id for f in frames if f.bus == p.inverter_wire}
    assert not on_its_bus & set(range(0x300, 0x304))  # a Sunny Island's own ids
    assert not on_its_bus & VEHICLE_IDS  # nor any other vehicle frame
    assert {0x351, 0x305} <= on_its_bus  # the inverter's protocol is there


@pytest.mark.parametrize("protocol", ["can_bms", "byd_hvs", "pylon_hv"])
def test_with_a_vcu_the_inverter_has_a_bus_of_its_own(protocol: str) -> None:
    profile = LV if protocol == "can_bms" else HV
    p = LockstepPack(load_settings(profile, ["endpoints.vcu=true",
                                             f"endpoints.inverter={protocol}"]))
    assert p.inverter_wire == "inverter"
    frames = wire_frames(p, 12.0)
    inverter_ids = {(layout.base_id, layout.is_extended_id)
                    for layout in inverter_codec(protocol).layouts.values()}
    vehicle = {f.frame.arbitration_id for f in frames if f.bus == "vehicle"}
    inverter = {(f.frame.arbitration_id, f.frame.is_extended_id) for f in frames
                if f.bus == "inverter"}
    assert set(range(0x300, 0x304)) <= vehicle  # the VCU gets its frames ...
    assert inverter  # ... the inverter only its protocol's
    assert inverter <= inverter_ids
    # BYD's 0x110/0x111 are BmsLimits/BmsPowerLimits there: nothing crosses over
    assert not {f.node for f in frames if f.bus == "vehicle"} & {"Inverter"}
    assert {f.node for f in frames if f.bus == "inverter"} <= {"Master", "Inverter"}
    assert p.inverter is not None
    assert p.inverter.current_a != 0.0
