"""The charger and the inverter in the whole virtual pack (lockstep): a CC/CV charge session
through the Elcon protocol, the charger's flags and silence, and an inverter that follows
the CAN-BMS limits and stops when they stop."""

from __future__ import annotations

from pathlib import Path

from bms.chemistry import cell_capacity_ah
from bms.settings import load_settings
from dbc.charger_frames import ChargerFlag, command_id, status_id
from dbc.frames import MasterState
from dbc.inverter_frames import InverterLimits, PylonRequests
from dbc.sim_frames import (
    CellQuantity,
    InjectCell,
    InjectCharger,
    VcuCommand,
    VcuCommandRequest,
)
from master.charger_control import ChargePhase
from master.diagnosis.table import DiagId, Severity
from master.events import PACK
from sim.lockstep import LockstepPack, WireFrame

REPO = Path(__file__).resolve().parents[2]
EV = REPO / "deploy/packs/ev-profile.toml"
HOME = REPO / "deploy/packs/home-storage-lv.toml"  # 16 LFP cells: the CAN-BMS protocol's class


def ev_pack(*overrides: str) -> LockstepPack:
    return LockstepPack(load_settings(EV, ["pack.modules=2", "sim.vcu.request=charge",
                                           "sim.vcu.start_delay_s=1", *overrides]))


def home_pack(*overrides: str) -> LockstepPack:
    return LockstepPack(load_settings(HOME, ["pack.modules=2", "pack.cells_per_module=8",
                                             *overrides]))


def fatal(p: LockstepPack) -> list[DiagId]:
    return [e for e, _, _ in p.master.engine.active(Severity.FATAL)]


def charge_session(p: LockstepPack) -> tuple[list[WireFrame], list[float], set[ChargePhase]]:
    """Run a charge the VCU asked for until the VCU saw it complete."""
    frames: list[WireFrame] = []
    currents: list[float] = []
    phases: set[ChargePhase] = set()
    charger = p.master.endpoints.charger
    assert charger is not None
    p.run_until(lambda: p.master.state is MasterState.CHARGE, 10.0)
    while p.vcu.charge_completed_s is None:
        frames += p.step()
        currents.append(p.box.current_a)
        phases.add(charger.phase)
        assert p.now_s < 3600, "the charge did not end within an hour"
    return frames, currents, phases


def test_a_charge_session_ends_at_the_target_soc() -> None:
    p = ev_pack("sim.cells.initial_soc_pct=60", "endpoints.charge_target_soc_pct=66")
    frames, currents, phases = charge_session(p)
    estimate = p.master.algorithms.estimate
    assert estimate is not None
    assert 0.66 <= estimate.soc_max <= 0.67
    assert phases == {ChargePhase.IDLE, ChargePhase.CONSTANT_CURRENT, ChargePhase.COMPLETE}
    half_c = 0.5 * cell_capacity_ah(p.settings)
    assert half_c - 0.1 <= max(currents) <= half_c + 0.1  # the requested 0.5 C, no more
    assert fatal(p) == []
    p.run_until(lambda: p.master.state is MasterState.STANDBY, 5.0)
    list(p.run(2.0))
    assert abs(p.box.current_a) < 0.1  # the charger stopped with the charge
    ids = {f.frame.arbitration_id for f in frames}
    assert command_id(0xE5) in ids
    assert status_id(0xE5) in ids


def test_a_full_charge_tapers_at_the_charge_voltage_and_ends_below_c20() -> None:
    p = ev_pack("sim.cells.initial_soc_pct=88", "endpoints.charge_target_soc_pct=100",
                "endpoints.charge_end_c=0.15")
    _, currents, phases = charge_session(p)
    assert ChargePhase.CONSTANT_VOLTAGE in phases
    end_a = p.settings.endpoints.charge_end_c * cell_capacity_ah(p.settings)
    assert max(currents[-500:]) < end_a  # the last 5 s: below the end current
    cells = p.master.summary(p.now_s)
    assert cells.max_cell_mv is not None
    assert cells.max_cell_mv.value < p.master.limits.cell_overvoltage_mv.operating
    assert fatal(p) == []


def test_the_charger_at_another_address_is_driven_there() -> None:
    p = ev_pack("endpoints.charger_address=0xE7")
    seen: set[int] = set()
    for item in p.run(20.0):
        seen.add(item.frame.arbitration_id)
    assert command_id(0xE7) in seen
    assert status_id(0xE7) in seen
    assert command_id(0xE5) not in seen
    assert p.charger is not None
    assert p.charger.current_a > 0


def test_a_charger_flag_becomes_a_warning_and_stops_the_charge() -> None:
    p = ev_pack()
    p.run_until(lambda: p.charger is not None and p.charger.current_a > 1.0, 20.0)
    p.inject(InjectCharger(int(ChargerFlag.OVER_TEMPERATURE)))
    p.run_until(lambda: p.master.engine.is_active(DiagId.CHARGER_OVERTEMPERATURE,
                                                  PACK), 5.0)
    p.run_until(lambda: p.charger is not None and p.charger.current_a == 0.0, 5.0)
    assert "Charger" in p.master.report(p.now_s).warning_groups
    assert fatal(p) == []  # a charger problem ends the charge; the pack stays healthy
    p.inject(InjectCharger(0))
    p.run_until(lambda: p.charger is not None and p.charger.current_a > 1.0, 10.0)


def test_a_silent_charger_while_charging_is_charger_lost() -> None:
    p = ev_pack()
    p.run_until(lambda: p.charger is not None and p.charger.current_a > 1.0, 20.0)
    status = status_id(0xE5)
    p.cut = lambda item: item.frame.arbitration_id == status
    took = p.run_until(lambda: p.master.engine.is_active(DiagId.CHARGER_LOST,
                                                         PACK), 10.0)
    assert 4.0 <= took <= 6.5  # 5 s after the last status, which came once a second
    p.run_until(lambda: p.charger is not None and p.charger.current_a == 0.0, 3.0)


def test_the_charger_stops_by_itself_without_commands() -> None:
    p = ev_pack()
    p.run_until(lambda: p.charger is not None and p.charger.current_a > 1.0, 20.0)
    command = command_id(0xE5)
    p.cut = lambda item: item.frame.arbitration_id == command
    took = p.run_until(lambda: p.charger is not None and p.charger.current_a == 0.0, 10.0)
    assert 4.0 <= took <= 6.5
    assert p.charger is not None
    assert p.charger.flags(p.now_s) & ChargerFlag.COMMUNICATION_TIMEOUT


def test_leaving_charge_stops_the_charger_command() -> None:
    p = ev_pack()
    p.run_until(lambda: p.charger is not None and p.charger.current_a > 1.0, 20.0)
    p.inject(VcuCommand(VcuCommandRequest.STANDBY))
    p.run_until(lambda: p.charger is not None and p.charger.current_a == 0.0, 3.0)
    assert p.charger is not None
    assert p.charger.command is not None
    assert not p.charger.command.start


def test_the_inverter_follows_the_limits_and_stops_when_they_stop() -> None:
    p = home_pack("sim.inverter.profile=[{duration_s=100.0,current_c=-10.0}]",
                  "sim.hv_box.fuse_rating_a=5000")
    limits: list[InverterLimits] = []
    requests: list[PylonRequests] = []

    def record(item: WireFrame) -> None:
        reception = p.inverter.receiver.codec.decode(item.frame)  # type: ignore[union-attr]
        if isinstance(reception.frame, InverterLimits):
            limits.append(reception.frame)
        elif isinstance(reception.frame, PylonRequests):
            requests.append(reception.frame)

    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    for item in p.run(20.0):
        if item.node == "Master" and item.bus == "vehicle" and \
                item.frame.arbitration_id in (0x351, 0x35C):
            record(item)
    assert p.inverter is not None
    last = limits[-1]
    assert last.charge_voltage_v > 0  # never 0
    assert last.discharge_current_a > 0
    assert requests[-1].discharge_enable
    # it wants 10 C of discharge, the BMS allows less: it takes what is allowed (here what a
    # Sunny Island accepts)
    assert p.inverter.current_a == -last.discharge_current_a == -120.0
    assert p.master.engine.is_active(DiagId.INVERTER_LOST, PACK) \
        is False
    p.cut = lambda item: item.frame.arbitration_id == 0x351
    p.run_until(lambda: p.inverter is not None and p.inverter.current_a == 0.0, 10.0)
    assert p.inverter.limits_at_s is not None
    silence_s = p.now_s - p.inverter.limits_at_s
    timeout_s = p.inverter.limits_timeout_s
    assert timeout_s == 3.0  # three of 0x351's periods
    assert timeout_s <= silence_s <= timeout_s + p.settings.sim.inverter.output_period_s + 0.01


def test_a_silent_inverter_is_a_warning() -> None:
    p = home_pack()
    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    p.cut = lambda item: item.frame.arbitration_id == 0x305
    took = p.run_until(lambda: p.master.engine.is_active(DiagId.INVERTER_LOST,
                                                         PACK), 10.0)
    assert 4.0 <= took <= 6.5
    assert "Inverter" in p.master.report(p.now_s).warning_groups
    assert p.master.state is MasterState.NORMAL  # a warning: the pack stays connected


def test_a_fatal_fault_stops_the_charger() -> None:
    p = ev_pack()
    p.run_until(lambda: p.charger is not None and p.charger.current_a > 1.0, 20.0)
    p.inject(InjectCell(0, 3, CellQuantity.VOLTAGE, 4400.0))  # over the maximum safety limit
    p.run_until(lambda: p.master.state is MasterState.ERROR, 5.0)
    assert DiagId.CELL_OVERVOLTAGE_MSL in fatal(p)
    p.run_until(lambda: p.charger is not None and p.charger.command is not None
                and not p.charger.command.start, 1.5)  # the next command says stop
    p.run_until(lambda: p.charger is not None and p.charger.current_a == 0.0, 1.0)
    assert not p.master.report(p.now_s).charge_complete
