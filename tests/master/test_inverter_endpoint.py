"""What every inverter protocol shares: the limits clamped to what its inverters accept, the
watch of the inverter, and the configuration-time refusal of a pack of another voltage
class (the rule broken on purpose)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bms.endpoint_settings import EndpointSettings
from bms.errors import ConfigError
from bms.settings import load_settings
from master.core import MasterCore
from master.endpoints import INVERTER_ENDPOINTS, inverter_problem
from master.inverter_can_bms import CAN_BMS_ACCEPTED, CanBmsEndpoint
from master.inverter_endpoint import (
    AcceptedRange,
    InverterInputs,
    Limits,
    PackDescription,
    voltage_problem,
)

REPO = Path(__file__).resolve().parents[2]
HV = REPO / "deploy/packs/home-storage-profile.toml"
LV = REPO / "deploy/packs/home-storage-lv.toml"
LV_PACK = PackDescription(16, 1, 16, "lfp", 100.0, 56.8, 44.8)


def inputs(charge_a: float = 50.0, discharge_a: float = 80.0, charge: bool = True,
           discharge: bool = True) -> InverterInputs:
    return InverterInputs(charge, discharge, charge_a, discharge_a, 52.0, -10.0, 25.0, 63.4,
                          98.0, (), ())


def endpoint(timeout_s: float = 5.0, pack: PackDescription = LV_PACK) -> CanBmsEndpoint:
    return CanBmsEndpoint(EndpointSettings(inverter="can_bms", inverter_timeout_s=timeout_s),
                          pack, now_s=0.0)


@pytest.mark.parametrize(("charge_a", "discharge_a", "expected"), [
    (50.0, 80.0, Limits(56.8, 44.8, 50.0, 80.0)),
    (370.0, 121.0, Limits(56.8, 44.8, 120.0, 120.0)),  # a Sunny Island ignores > 120 A
    (-5.0, 0.0, Limits(56.8, 44.8, 0.0, 0.0)),
])
def test_the_currents_are_clamped_to_what_the_inverter_accepts(
        charge_a: float, discharge_a: float, expected: Limits) -> None:
    assert endpoint().clamped(inputs(charge_a, discharge_a)) == expected


def test_a_refused_direction_is_zero_amps() -> None:
    assert endpoint().clamped(inputs(charge=False)) == Limits(56.8, 44.8, 0.0, 80.0)
    assert endpoint().clamped(inputs(discharge=False)) == Limits(56.8, 44.8, 50.0, 0.0)


def test_a_charge_ceiling_beyond_the_range_is_clamped() -> None:
    e = endpoint()
    e.charge_voltage_v = 64.2  # a calibration charge's ceiling (the core's)
    assert e.clamped(inputs()).charge_voltage_v == 63.0


def test_the_watch_of_the_inverter() -> None:
    e = endpoint(timeout_s=5.0)
    assert not e.lost(5.0)
    assert e.lost(5.1)  # never heard since the start
    e.heard(6.0)
    assert not e.lost(11.0)
    assert e.lost(11.1)
    assert not endpoint(timeout_s=0.0).lost(1000.0)  # not monitored


def test_a_pack_inside_the_range_fits() -> None:
    assert voltage_problem("can_bms", CAN_BMS_ACCEPTED, LV_PACK) is None


def test_a_pack_outside_the_range_is_refused_with_the_reason() -> None:
    hv = PackDescription(64, 4, 16, "lfp", 100.0, 227.2, 179.2)
    problem = voltage_problem("can_bms", CAN_BMS_ACCEPTED, hv)
    assert problem is not None
    assert problem.startswith("endpoints.inverter: can_bms (48 V class)")
    assert "charge voltage 227.2 V is outside 41-63 V" in problem
    assert "discharge voltage 179.2 V is outside 41-48 V" in problem
    narrow = AcceptedRange("test", (41.0, 63.0), (45.0, 48.0), 120.0)
    expected = ("endpoints.inverter: x (test) does not fit this pack of 16 cells in series: "
                "its discharge voltage 44.8 V is outside 45-48 V (every cell at its operating "
                "limits); choose a protocol of its voltage class or change the cells in series")
    assert voltage_problem("x", narrow, LV_PACK) == expected


@pytest.mark.parametrize(("profile", "protocol", "fits"), [
    (LV, "can_bms", True), (LV, "byd_hvs", False), (LV, "pylon_hv", False),
    (HV, "can_bms", False), (HV, "byd_hvs", True), (HV, "pylon_hv", True),
])
def test_the_shipped_profiles_fit_their_protocols_only(profile: Path, protocol: str,
                                                      fits: bool) -> None:
    settings = load_settings(profile, [f"endpoints.inverter={protocol}"])
    assert (inverter_problem(settings) is None) is fits


def test_the_master_refuses_to_start_with_a_protocol_of_another_class() -> None:
    # the case: 64 LFP cells (227 V) on the 48 V-class protocol
    settings = load_settings(HV, ["endpoints.inverter=can_bms"])
    with pytest.raises(ConfigError, match=r"can_bms \(48 V class\) does not fit"):
        MasterCore(settings, 0.0)


def test_every_protocol_has_an_endpoint_and_a_documented_range() -> None:
    assert set(INVERTER_ENDPOINTS) == {"can_bms", "byd_hvs", "pylon_hv"}
    for protocol, endpoint_class in INVERTER_ENDPOINTS.items():
        assert protocol == endpoint_class.PROTOCOL
        low, high = endpoint_class.ACCEPTED.charge_voltage_v
        assert 0 < low < high
        assert endpoint_class.ACCEPTED.current_max_a > 0
