"""The master's side of an Elcon/TC charge: what it asks for, when it stops, what the
diagnosis sees."""

from __future__ import annotations

from bms.endpoint_settings import EndpointSettings
from dbc.charger_frames import ChargerFlag, ElconStatus
from master.charger_control import END_HOLD_S, ChargeInputs, ChargePhase, ChargerControl
from master.diagnosis.table import DiagId

CAPACITY_AH = 50.0
CELLS = 96
OV_MV = 4150.0


def control(**settings: object) -> ChargerControl:
    return ChargerControl(EndpointSettings(charger="elcon", **settings),  # type: ignore[arg-type]
                          CAPACITY_AH, CELLS, OV_MV, now_s=0.0)


def inputs(allowed: bool = True, limit_a: float = 100.0, voltage_v: float = 370.0,
           current_a: float = 20.0, soc: float = 0.5) -> ChargeInputs:
    return ChargeInputs(allowed, limit_a, voltage_v, current_a, soc)


def test_constant_current_within_the_power_limits() -> None:
    c = control()
    command = c.command(0.0, inputs(limit_a=100.0))
    assert command.start
    assert command.max_current_a == 0.5 * CAPACITY_AH  # the default 0.5 C
    assert command.max_voltage_v == CELLS * (OV_MV - 50.0) / 1000
    assert c.command(1.0, inputs(limit_a=12.0)).max_current_a == 12.0  # the SOF limit wins
    assert c.phase is ChargePhase.CONSTANT_CURRENT


def test_the_configured_current_is_a_ceiling() -> None:
    assert control(charge_current_a=10.0).command(0.0, inputs()).max_current_a == 10.0


def test_ends_at_the_target_soc_and_stays_ended_until_rearmed() -> None:
    c = control(charge_target_soc_pct=80.0)
    assert c.command(0.0, inputs(soc=0.79)).start
    assert not c.command(1.0, inputs(soc=0.80)).start
    assert c.phase is ChargePhase.COMPLETE
    assert not c.command(2.0, inputs(soc=0.70)).start  # no restart by itself
    c.rearm()
    assert c.command(3.0, inputs(soc=0.70)).start


def test_ends_when_the_current_tapers_below_the_end_current_at_the_charge_voltage() -> None:
    c = control()
    cv = c.voltage_v
    end_a = 0.05 * CAPACITY_AH
    assert c.command(0.0, inputs(voltage_v=cv, current_a=end_a - 0.1)).start
    assert c.phase is ChargePhase.CONSTANT_VOLTAGE
    # a current above the end resets the hold
    assert c.command(END_HOLD_S / 2, inputs(voltage_v=cv, current_a=end_a + 1)).start
    assert c.command(END_HOLD_S, inputs(voltage_v=cv, current_a=end_a - 0.1)).start
    assert c.command(2 * END_HOLD_S - 0.1, inputs(voltage_v=cv, current_a=end_a - 0.1)).start
    assert not c.command(2 * END_HOLD_S, inputs(voltage_v=cv, current_a=end_a - 0.1)).start
    assert c.phase is ChargePhase.COMPLETE
    assert c.completions == 1


def test_a_low_current_below_the_charge_voltage_does_not_end_the_charge() -> None:
    c = control()
    for t in range(30):
        assert c.command(float(t), inputs(voltage_v=c.voltage_v * 0.9, current_a=0.0)).start


def test_stops_at_once_when_charging_is_not_allowed() -> None:
    c = control()
    assert c.command(0.0, inputs()).start
    stop = c.command(1.0, inputs(allowed=False))
    assert not stop.start
    assert stop.max_current_a == 0.0
    assert c.phase is ChargePhase.IDLE


def test_flags_and_silence_become_observations() -> None:
    c = control()
    c.on_status(ElconStatus(370.0, 20.0, ChargerFlag.OVER_TEMPERATURE), 0.0)
    seen = dict(c.observations(1.0, charging=True))
    assert seen[DiagId.CHARGER_OVERTEMPERATURE]
    assert not seen[DiagId.CHARGER_HARDWARE_FAILURE]
    assert not seen[DiagId.CHARGER_LOST]
    assert dict(c.observations(5.0, charging=True))[DiagId.CHARGER_LOST] is False
    assert dict(c.observations(5.1, charging=True))[DiagId.CHARGER_LOST]
    assert not dict(c.observations(5.1, charging=False))[DiagId.CHARGER_LOST]  # not needed


def test_a_charger_never_heard_is_lost_only_while_charging() -> None:
    c = control()
    assert dict(c.observations(6.0, charging=True))[DiagId.CHARGER_LOST]
    assert not dict(c.observations(6.0, charging=False))[DiagId.CHARGER_LOST]
