"""The BYD HVS battery side: silent until the inverter speaks, its identity then and on
request, limits every 2 s and the states every 10 s (Battery-Emulator BYD-CAN.cpp,
SunshadeCorp can_byd_sim.py)."""

from __future__ import annotations

from bms.endpoint_settings import EndpointSettings
from dbc.frames import Frame
from dbc.inverter_byd_hvs_frames import (
    BydBatteryInfo,
    BydCellInfo,
    BydInverterIdentity,
    BydInverterSoc,
    BydLimits,
    BydManufacturer,
    BydProductName,
    BydStates,
    BydUnknown290,
    BydVersion,
)
from master.diagnosis.table import DiagId
from master.inverter_byd_hvs import BydHvsEndpoint
from master.inverter_endpoint import InverterInputs, PackDescription

PACK = PackDescription(64, 4, 16, "lfp", 100.0, 227.2, 179.2)
IDENTITY = [BydVersion, BydUnknown290, BydManufacturer, BydProductName, BydProductName,
            BydProductName, BydProductName]


def endpoint() -> BydHvsEndpoint:
    return BydHvsEndpoint(EndpointSettings(inverter="byd_hvs"), PACK, now_s=0.0)


def inputs(charge: bool = True, fatal: tuple[DiagId, ...] = ()) -> InverterInputs:
    return InverterInputs(charge, True, 30.0, 40.0, 210.5, 12.3, 24.0, 55.0, 98.0, fatal, (),
                          min_temperature_degc=20.0)


def kinds(frames: list[Frame]) -> list[type]:
    return [type(f) for f in frames]


def test_silent_until_the_inverter_speaks() -> None:
    e = endpoint()
    for t in (0.0, 2.0, 10.0):
        assert not e.due(t)
        assert e.frames(inputs(), t) == []


def test_the_identity_then_every_frame_then_the_periods() -> None:
    e = endpoint()
    e.on_frame(BydInverterSoc(50.0), 3.0)
    assert e.due(3.0)
    first = e.frames(inputs(), 3.0)
    assert kinds(first) == [*IDENTITY, BydLimits, BydStates, BydBatteryInfo, BydCellInfo]
    assert [f.text for f in first if isinstance(f, BydProductName)] == \
        ["Battery", "-Box Pr", "emium H", "VS"]
    version = first[0]
    assert isinstance(version, BydVersion)
    assert version.capacity_kwh == 20.3  # 100 Ah at the window's middle, 203.2 V
    assert not e.due(4.0)
    assert kinds(e.frames(inputs(), 5.0)) == [BydLimits]  # 2 s later
    for t in (7.0, 9.0, 11.0):
        assert kinds(e.frames(inputs(), t)) == [BydLimits]
    assert kinds(e.frames(inputs(), 13.0)) == [BydLimits, BydStates, BydBatteryInfo,
                                               BydCellInfo]  # 10 s after the first


def test_the_identity_again_on_request() -> None:
    e = endpoint()
    e.on_frame(BydInverterSoc(50.0), 0.0)
    e.frames(inputs(), 0.0)
    e.on_frame(BydInverterIdentity(False, "SUNGROW"), 0.5)  # its name: no request
    assert not e.due(0.5)
    e.on_frame(BydInverterIdentity(True), 0.6)
    assert kinds(e.frames(inputs(), 0.6)) == IDENTITY
    assert e.identities_sent == 2


def test_the_values() -> None:
    e = endpoint()
    e.on_frame(BydInverterSoc(50.0), 0.0)
    frames = {type(f): f for f in e.frames(inputs(), 0.0)}
    assert frames[BydLimits] == BydLimits(227.2, 179.2, 30.0, 40.0)
    assert frames[BydStates] == BydStates(55.0, 98.0, 53.9, 98.0)  # Ah: 100 x SOH x SOC
    assert frames[BydBatteryInfo] == BydBatteryInfo(210.5, 12.3, 22.0)  # the mean temperature
    assert frames[BydCellInfo] == BydCellInfo(24.0, 20.0)


def test_a_refused_direction_and_a_fault_are_zero_amps() -> None:
    e = endpoint()
    e.on_frame(BydInverterSoc(50.0), 0.0)
    limits = [f for f in e.frames(inputs(charge=False), 0.0) if isinstance(f, BydLimits)]
    assert limits == [BydLimits(227.2, 179.2, 0.0, 40.0)]
