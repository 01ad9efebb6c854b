"""The inverter's CAN-BMS frames from the master's values, and its keep-alive watch."""

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
from master.inverter_endpoint import InverterEndpoint, InverterInputs, pylon_flag, sma_alarm


def endpoint(timeout_s: float = 5.0) -> InverterEndpoint:
    return InverterEndpoint(EndpointSettings(inverter="can_bms", inverter_timeout_s=timeout_s,
                                             manufacturer="acme"),
                            cells=16, modules=4, chemistry="lfp", capacity_ah=100.0,
                            overvoltage_operating_mv=3550.0, undervoltage_operating_mv=2900.0,
                            now_s=0.0)


def inputs(charge: bool = True, discharge: bool = True,
           fatal: tuple[DiagId, ...] = (), warnings: tuple[DiagId, ...] = ()) -> InverterInputs:
    return InverterInputs(charge, discharge, 50.0, 80.0, 52.0, -10.0, 25.0, 63.4, 98.0,
                          fatal, warnings)


def frame(frames: list[object], kind: type) -> object:
    (found,) = [f for f in frames if isinstance(f, kind)]
    return found


def test_limits_requests_and_the_battery_description() -> None:
    frames = endpoint().frames(inputs())
    assert frame(frames, InverterLimits) == InverterLimits(56.8, 50.0, 80.0, 46.4)
    assert frame(frames, PylonRequests) == PylonRequests(True, True)
    assert frame(frames, Manufacturer) == Manufacturer("acme")
    assert frame(frames, BatteryInfo) == BatteryInfo("LF", 1, 100, 1)
    assert len(frames) == 8


def test_a_refused_direction_is_zero_amps_and_no_request_but_never_zero_volts() -> None:
    frames = endpoint().frames(inputs(charge=False))
    limits = frame(frames, InverterLimits)
    assert isinstance(limits, InverterLimits)
    assert limits.charge_current_a == 0.0
    assert limits.charge_voltage_v == 56.8  # 0 V would read as "no limit" to some inverters
    assert limits.discharge_current_a == 80.0
    assert frame(frames, PylonRequests) == PylonRequests(False, True)


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


def test_fatal_is_an_alarm_and_warning_a_warning() -> None:
    frames = endpoint().frames(inputs(fatal=(DiagId.CELL_OVERVOLTAGE_MSL,),
                                      warnings=(DiagId.CHARGE_OVERCURRENT_RSL,)))
    assert frame(frames, SmaAlarms) == SmaAlarms(frozenset({"HighVoltage", "General"}),
                                                 frozenset({"HighChargeCurrent"}))
    assert frame(frames, PylonAlarms) == PylonAlarms(frozenset({"HighVoltage"}),
                                                     frozenset({"ChargeOvercurrent"}), 4)


def test_the_keep_alive_watch() -> None:
    e = endpoint(timeout_s=5.0)
    assert not e.lost(5.0)
    assert e.lost(5.1)  # never heard since the start
    e.on_keep_alive(6.0)
    assert not e.lost(11.0)
    assert e.lost(11.1)
    assert not endpoint(timeout_s=0.0).lost(1000.0)  # not monitored
