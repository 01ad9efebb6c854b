"""The CAN-BMS (SMA / Victron / Pylontech LV) frames from the master's values."""

from __future__ import annotations

import pytest

from bms.endpoint_settings import EndpointSettings
from dbc.inverter_frames import (
    ALARM_NAMES,
    BatteryInfo,
    InverterLimits,
    Manufacturer,
    PylonAlarms,
    PylonRequests,
    SmaAlarms,
)
from master.diagnosis.table import DiagId
from master.inverter_can_bms import CanBmsEndpoint, pylon_flag, sma_alarm
from master.inverter_endpoint import InverterInputs, PackDescription

PACK = PackDescription(16, 1, 16, "lfp", 100.0, 16 * 3.55, 16 * 2.9)


def endpoint() -> CanBmsEndpoint:
    return CanBmsEndpoint(EndpointSettings(inverter="can_bms", manufacturer="acme"), PACK,
                          now_s=0.0)


def inputs(charge: bool = True, discharge: bool = True, charge_a: float = 50.0,
           fatal: tuple[DiagId, ...] = (), warnings: tuple[DiagId, ...] = ()) -> InverterInputs:
    return InverterInputs(charge, discharge, charge_a, 80.0, 52.0, -10.0, 25.0, 63.4, 98.0,
                          fatal, warnings)


def frame(frames: list[object], kind: type) -> object:
    (found,) = [f for f in frames if isinstance(f, kind)]
    return found


def test_limits_requests_and_the_battery_description() -> None:
    frames = endpoint().frames(inputs(), 0.0)
    assert frame(frames, InverterLimits) == InverterLimits(56.8, 50.0, 80.0, 46.4)
    assert frame(frames, PylonRequests) == PylonRequests(True, True)
    assert frame(frames, Manufacturer) == Manufacturer("acme")
    assert frame(frames, BatteryInfo) == BatteryInfo("LF", 1, 100, 1)
    assert len(frames) == 8


def test_every_second() -> None:
    e = endpoint()
    assert e.due(0.0)
    assert len(e.frames(inputs(), 0.0)) == 8
    assert not e.due(0.5)
    assert e.frames(inputs(), 0.5) == []
    assert e.due(1.0)


def test_a_refused_direction_is_zero_amps_and_no_request_but_never_zero_volts() -> None:
    frames = endpoint().frames(inputs(charge=False), 0.0)
    limits = frame(frames, InverterLimits)
    assert isinstance(limits, InverterLimits)
    assert limits.charge_current_a == 0.0
    assert limits.charge_voltage_v == 56.8  # 0 V would read as "no limit" to some inverters
    assert limits.discharge_current_a == 80.0
    assert frame(frames, PylonRequests) == PylonRequests(False, True)


def test_above_what_a_sunny_island_accepts_the_limit_is_120_a() -> None:
    limits = frame(endpoint().frames(inputs(charge_a=400.0), 0.0), InverterLimits)
    assert isinstance(limits, InverterLimits)
    assert limits.charge_current_a == 120.0


@pytest.mark.parametrize(("entry", "sma", "pylon"), [
    (DiagId.CELL_OVERVOLTAGE_MSL, "HighVoltage", "HighVoltage"),
    (DiagId.DEEP_DISCHARGE, "LowVoltage", "LowVoltage"),
    (DiagId.CHARGE_OVERTEMPERATURE_MSL, "HighTemperatureCharge", "HighTemperature"),
    (DiagId.DISCHARGE_UNDERTEMPERATURE_RSL, "LowTemperature", "LowTemperature"),
    (DiagId.DISCHARGE_OVERCURRENT_MSL, "HighDischargeCurrent", "DischargeOvercurrent"),
    (DiagId.CHARGE_OVERCURRENT_RSL, "HighChargeCurrent", "ChargeOvercurrent"),
    (DiagId.CONTACTOR_WELDED, "Contactor", "SystemError"),
    (DiagId.CELL_VOLTAGE_SPREAD, "CellImbalance", "SystemError"),
    (DiagId.SLAVE_LOST, "BmsInternal", "SystemError"),
])
def test_every_entry_has_an_alarm(entry: DiagId, sma: str, pylon: str) -> None:
    assert sma_alarm(entry) == sma
    assert pylon_flag(entry) == pylon


def test_all_entries_map_onto_known_alarms() -> None:
    assert {sma_alarm(e) for e in DiagId} <= set(ALARM_NAMES)


def test_fatal_is_an_alarm_and_warning_a_warning_and_one_pack_in_parallel() -> None:
    frames = endpoint().frames(inputs(fatal=(DiagId.CELL_OVERVOLTAGE_MSL,),
                                      warnings=(DiagId.CHARGE_OVERCURRENT_RSL,)), 0.0)
    assert frame(frames, SmaAlarms) == SmaAlarms(frozenset({"HighVoltage", "General"}),
                                                 frozenset({"HighChargeCurrent"}))
    # byte 4 is the packs in parallel (1), not this pack's series modules
    assert frame(frames, PylonAlarms) == PylonAlarms(frozenset({"HighVoltage"}),
                                                     frozenset({"ChargeOvercurrent"}), 1)
