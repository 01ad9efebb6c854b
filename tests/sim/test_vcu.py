"""The simulated VCU keeps within the BMS's limits and ends a charge on the taper."""

from bms.settings import load_settings
from dbc.codec import vehicle_codec
from dbc.frames import OPEN, Contactors, MasterState
from dbc.vehicle_frames import BmsLimits, BmsStatus, Limiter, RequestedState
from sim.vcu import TERMINATION_HOLD_S, VcuSim

CLOSED = Contactors(True, True, False)


def vcu_in(state: MasterState, plan: str = "standby") -> VcuSim:
    vcu = VcuSim(load_settings(None, [f"sim.vcu.request={plan}", "sim.vcu.start_delay_s=0"]),
                 0.0)
    vcu.status = BmsStatus(state, CLOSED, False, False, 0, frozenset(), frozenset())
    return vcu


def limits(charge_a: float, discharge_a: float) -> BmsLimits:
    return BmsLimits(charge_a, discharge_a, Limiter.MAXIMUM, Limiter.MAXIMUM)


def test_the_load_stays_within_the_limits() -> None:
    vcu = vcu_in(MasterState.NORMAL)
    assert vcu.load_a() == -10.0  # the default profile starts at 2 C of 5 Ah
    vcu.limits = limits(10.0, 4.0)
    assert vcu.load_a() == -4.0
    vcu = vcu_in(MasterState.CHARGE)
    vcu.limits = limits(1.5, 30.0)
    assert vcu.load_a() == 1.5  # asks 0.5 C = 2.5 A, the BMS allows 1.5 A
    vcu.obey_limits = False
    assert vcu.load_a() == 2.5


def test_limits_arrive_over_the_vehicle_bus() -> None:
    vcu = vcu_in(MasterState.NORMAL)
    frame = vehicle_codec().encode(limits(3.0, 7.5), counter=0)
    vcu.on_vehicle_frame(frame, 0.0)
    assert vcu.limits == limits(3.0, 7.5)


def test_a_charge_ends_when_the_limit_stays_below_c_over_20() -> None:
    vcu = vcu_in(MasterState.CHARGE, plan="charge")
    vcu.limits = limits(0.2, 30.0)  # below 0.25 A (C/20 of 5 Ah)
    vcu.tick(1.0)
    vcu.tick(1.0 + TERMINATION_HOLD_S - 0.1)
    assert vcu.request is RequestedState.CHARGE  # not long enough yet
    vcu.limits = limits(0.3, 30.0)  # the limit rose again: the count restarts
    vcu.tick(12.0)
    vcu.limits = limits(0.2, 30.0)
    vcu.tick(13.0)
    vcu.tick(13.0 + TERMINATION_HOLD_S)
    assert vcu.request is RequestedState.STANDBY
    assert vcu.charge_completed_s == 13.0 + TERMINATION_HOLD_S


def test_no_load_with_open_contactors() -> None:
    vcu = vcu_in(MasterState.NORMAL)
    vcu.status = BmsStatus(MasterState.NORMAL, OPEN, False, False, 0, frozenset(), frozenset())
    assert vcu.load_a() == 0.0
