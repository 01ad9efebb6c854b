"""The Pylontech HV battery side: it answers 0x4200 and nothing else, with the ensemble
(0x4210-0x4290) or the system equipment information (0x7310-0x7340)."""

from __future__ import annotations

from bms.endpoint_settings import EndpointSettings
from dbc.inverter_pylon_hv_frames import (
    PylonHvAlarms,
    PylonHvBasicStatus,
    PylonHvCellTemperatures,
    PylonHvCellVoltages,
    PylonHvFaultExtension,
    PylonHvForbidden,
    PylonHvLimits,
    PylonHvManufacturer,
    PylonHvManufacturer2,
    PylonHvModules,
    PylonHvModuleTemperatures,
    PylonHvModuleVoltages,
    PylonHvRequest,
    PylonHvRequestKind,
    PylonHvStatus,
    PylonHvVersion,
)
from master.diagnosis.table import DiagId
from master.inverter_endpoint import InverterInputs, PackDescription
from master.inverter_pylon_hv import PylonHvEndpoint, pylon_hv_error, pylon_hv_flag
from master.pack_state import Extreme

PACK = PackDescription(64, 4, 16, "lfp", 100.0, 227.2, 179.2, sensors_per_module=8)
ENSEMBLE = PylonHvRequest(PylonHvRequestKind.ENSEMBLE_INFORMATION)
EQUIPMENT = PylonHvRequest(PylonHvRequestKind.SYSTEM_EQUIPMENT_INFORMATION)


def endpoint() -> PylonHvEndpoint:
    return PylonHvEndpoint(EndpointSettings(inverter="pylon_hv"), PACK, now_s=0.0)


def inputs(current_a: float = -12.0, discharge: bool = True, fatal: tuple[DiagId, ...] = (),
           warnings: tuple[DiagId, ...] = ()) -> InverterInputs:
    return InverterInputs(
        True, discharge, 30.0, 40.0, 210.4, current_a, 24.0, 55.2, 98.0, fatal, warnings,
        min_temperature_degc=20.5, highest_cell_mv=Extreme(3301.0, 2, 5),
        lowest_cell_mv=Extreme(3289.0, 0, 15), hottest_degc=Extreme(24.0, 3, 7),
        coldest_degc=Extreme(20.5, 1, 0), module_voltages_v=(52.6, 52.7, None, 52.5))


def test_it_answers_only_when_asked() -> None:
    e = endpoint()
    assert not e.due(0.0)
    e.on_frame(ENSEMBLE, 1.0)
    assert e.due(1.0)
    assert e.heard_at_s == 1.0
    answer = e.frames(inputs(), 1.0)
    assert [type(f) for f in answer] == [
        PylonHvStatus, PylonHvLimits, PylonHvCellVoltages, PylonHvCellTemperatures,
        PylonHvAlarms, PylonHvModuleVoltages, PylonHvModuleTemperatures, PylonHvForbidden,
        PylonHvFaultExtension]
    assert not e.due(1.01)
    e.on_frame(EQUIPMENT, 2.0)
    assert e.frames(inputs(), 2.0) == [
        PylonHvVersion(), PylonHvModules(64, 4, 16, 203, 100), PylonHvManufacturer("PYLON"),
        PylonHvManufacturer2()]


def test_the_ensemble_values() -> None:
    e = endpoint()
    e.on_frame(ENSEMBLE, 0.0)
    frames = {type(f): f for f in e.frames(inputs(), 0.0)}
    assert frames[PylonHvStatus] == PylonHvStatus(210.4, -12.0, 24.0, 55, 98)
    assert frames[PylonHvLimits] == PylonHvLimits(227.2, 179.2, 30.0, 40.0)
    # cell numbers over the pack: module x cells per module + cell
    assert frames[PylonHvCellVoltages] == PylonHvCellVoltages(3301, 3289, 37, 15)
    assert frames[PylonHvCellTemperatures] == PylonHvCellTemperatures(24.0, 20.5, 31, 8)
    assert frames[PylonHvModuleVoltages] == PylonHvModuleVoltages(52700, 52500, 1, 3)
    assert frames[PylonHvModuleTemperatures] == PylonHvModuleTemperatures(24.0, 20.5, 3, 1)
    assert frames[PylonHvAlarms] == PylonHvAlarms(PylonHvBasicStatus.DISCHARGE)
    assert frames[PylonHvForbidden] == PylonHvForbidden(False, False)


def test_a_refused_direction_is_zero_amps_and_forbidden() -> None:
    e = endpoint()
    e.on_frame(ENSEMBLE, 0.0)
    frames = {type(f): f for f in e.frames(inputs(discharge=False), 0.0)}
    assert frames[PylonHvLimits] == PylonHvLimits(227.2, 179.2, 30.0, 0.0)
    assert frames[PylonHvForbidden] == PylonHvForbidden(False, True)


def test_faults_are_protections_and_warnings_alarms() -> None:
    e = endpoint()
    e.on_frame(ENSEMBLE, 0.0)
    alarms = [f for f in e.frames(inputs(0.0, fatal=(DiagId.CELL_OVERVOLTAGE_MSL,
                                                     DiagId.CONTACTOR_WELDED),
                                         warnings=(DiagId.CHARGE_OVERTEMPERATURE_RSL,)), 0.0)
              if isinstance(f, PylonHvAlarms)]
    assert alarms == [PylonHvAlarms(PylonHvBasicStatus.SLEEP, frozenset({"RelayCheck"}),
                                    frozenset({"ChargeHighTemperature"}),
                                    frozenset({"CellHighVoltage"}))]


def test_the_mapping() -> None:
    assert pylon_hv_flag(DiagId.DEEP_DISCHARGE) == "CellLowVoltage"
    assert pylon_hv_flag(DiagId.SLAVE_LOST) is None
    assert pylon_hv_error(DiagId.SLAVE_LOST) == "InternalCommunication"
    assert pylon_hv_error(DiagId.FUSE_BLOWN) == "Other"
