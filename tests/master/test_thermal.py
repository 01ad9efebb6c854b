"""The thermal request: cooling before the limits, heating when too cold, with hysteresis."""

from bms.settings import Settings
from dbc.vehicle_frames import ThermalRequest
from master.diagnosis.limits import resolve_limits
from master.thermal import ThermalDemand

LIMITS = resolve_limits(Settings())  # NMC: discharge OT 50, charge OT 40, charge UT 5 degC


def test_cooling_heating_and_nothing() -> None:
    demand = ThermalDemand(LIMITS)
    assert demand.update(20.0, 30.0, charging=False) is ThermalRequest.NONE
    assert demand.update(20.0, 40.0, charging=False) is ThermalRequest.COOLING
    assert demand.update(20.0, 36.0, charging=True) is ThermalRequest.COOLING  # 35 charging
    assert demand.update(8.0, 20.0, charging=False) is ThermalRequest.HEATING
    assert demand.update(None, None, charging=False) is ThermalRequest.NONE


def test_hysteresis_keeps_a_request_for_two_kelvin() -> None:
    demand = ThermalDemand(LIMITS)
    demand.update(20.0, 40.5, charging=False)
    assert demand.update(20.0, 38.5, charging=False) is ThermalRequest.COOLING
    assert demand.update(20.0, 37.9, charging=False) is ThermalRequest.NONE
    demand.update(9.0, 20.0, charging=False)
    assert demand.update(11.5, 20.0, charging=False) is ThermalRequest.HEATING
    assert demand.update(12.5, 20.0, charging=False) is ThermalRequest.NONE
