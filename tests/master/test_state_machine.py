"""The BMS state machine, transition by transition, on plain inputs."""

from dataclasses import replace

import pytest

from bms.settings import ContactorSettings
from dbc.frames import OPEN, Contactors, MasterState
from dbc.vehicle_frames import RequestedState
from master.events import ContactorEvent, NoticeEvent
from master.state_machine import CLOSED, MINUS, PRECHARGING, StateInputs, StateMachine

SETTINGS = ContactorSettings()
S = MasterState
DRIVE, CHARGE, STANDBY = RequestedState.DRIVE, RequestedState.CHARGE, RequestedState.STANDBY
QUIET = StateInputs(request=STANDBY, reset_faults=False, fatal_due=None, fatal_active=False,
                    closing_blocked=None, pack_voltage_v=400.0, bus_voltage_v=0.0,
                    current_a=0.0, feedback=OPEN)


class Rig:
    """A machine with a perfect contactor box: feedback follows the command at once, and the
    DC link reaches the pack voltage ``precharge_s`` after the precharge relay closes."""

    def __init__(self, precharge_s: float | None = 0.3, start: MasterState = S.STANDBY) -> None:
        self.m = StateMachine(SETTINGS, 0.0)
        self.now = 0.0
        self.precharge_s = precharge_s
        self.precharge_started: float | None = None
        self.inputs = QUIET
        if start is not S.INIT:
            self.step()
            assert self.m.state is S.STANDBY
        if start in (S.NORMAL, S.CHARGE):
            self.run(replace(QUIET, request=DRIVE if start is S.NORMAL else CHARGE), 1.0)
            assert self.m.state is start

    def step(self, inputs: StateInputs | None = None) -> None:
        if inputs is not None:
            self.inputs = inputs
        command = self.m.command
        if command.precharge and self.precharge_started is None:
            self.precharge_started = self.now
        if not command.precharge and not command.main_plus:
            self.precharge_started = None
        charged = command.main_plus or (
            self.precharge_s is not None and self.precharge_started is not None
            and self.now - self.precharge_started >= self.precharge_s)
        self.m.step(replace(self.inputs, feedback=command,
                            bus_voltage_v=400.0 if charged else 0.0), self.now)
        self.now = round(self.now + 0.01, 6)

    def run(self, inputs: StateInputs, seconds: float) -> None:
        for _ in range(round(seconds / 0.01)):
            self.step(inputs)

    def commands(self) -> list[Contactors]:
        return [e.command for e in self.m.events if isinstance(e, ContactorEvent)]


def test_init_waits_until_closing_is_possible() -> None:
    rig = Rig(start=S.INIT)
    rig.step(replace(QUIET, closing_blocked="not every module is online"))
    assert rig.m.state is S.INIT
    rig.step(QUIET)
    assert rig.m.state is S.STANDBY


def test_init_with_a_fatal_fault_goes_to_error() -> None:
    rig = Rig(start=S.INIT)
    rig.step(replace(QUIET, fatal_due="slave_lost", fatal_active=True))
    assert rig.m.state is S.ERROR


@pytest.mark.parametrize(("request_", "state"), [(DRIVE, S.NORMAL), (CHARGE, S.CHARGE)])
def test_close_sequence(request_: RequestedState, state: MasterState) -> None:
    rig = Rig()
    rig.run(replace(QUIET, request=request_), 1.0)
    assert rig.m.state is state
    assert rig.commands() == [MINUS, PRECHARGING,
                              Contactors(main_plus=True, main_minus=True, precharge=True),
                              CLOSED]


@pytest.mark.parametrize("blocked", [("not every module is online", False), (None, True)])
def test_no_close_while_blocked_or_faulty(blocked: tuple[str | None, bool]) -> None:
    reason, fatal = blocked
    rig = Rig()
    rig.run(replace(QUIET, request=DRIVE, closing_blocked=reason, fatal_active=fatal), 0.5)
    assert rig.m.state is S.STANDBY
    assert rig.m.command == OPEN


def test_precharge_timeout_retries_after_a_pause_then_error() -> None:
    rig = Rig(precharge_s=None)  # the DC link never comes up
    rig.run(replace(QUIET, request=DRIVE), 2.5)
    assert rig.m.state is S.PRECHARGE
    assert rig.m.command == OPEN  # first try timed out after 2 s: open, pause
    notices = [e.text for e in rig.m.events if isinstance(e, NoticeEvent)]
    assert notices == ["precharge try 1 of 3 failed after 2 s: pack-bus gap 400.0 V"]
    rig.run(replace(QUIET, request=DRIVE), 3.0)
    assert rig.m.command == PRECHARGING  # second try after the 3 s pause
    rig.run(replace(QUIET, request=DRIVE), 10.0)
    assert rig.m.state is S.ERROR
    assert rig.m.command == OPEN
    assert rig.commands().count(MINUS) == 3  # three tries
    assert rig.m.take_precharge_failure() is True
    assert rig.m.take_precharge_failure() is False  # one-shot


def test_precharge_that_finishes_on_a_retry() -> None:
    rig = Rig(precharge_s=None)
    rig.run(replace(QUIET, request=DRIVE), 2.5)
    rig.precharge_s = 0.3  # the fault went away during the pause
    rig.run(replace(QUIET, request=DRIVE), 4.0)
    assert rig.m.state is S.NORMAL


def test_withdrawn_request_aborts_precharge() -> None:
    rig = Rig(precharge_s=None)
    rig.run(replace(QUIET, request=DRIVE), 0.5)
    rig.step(replace(QUIET, request=STANDBY))
    assert (rig.m.state, rig.m.command) == (S.STANDBY, OPEN)


def test_open_on_request_in_the_safe_order() -> None:
    rig = Rig(start=S.NORMAL)
    before = len(rig.m.events)
    rig.step(QUIET)
    assert rig.m.command == MINUS  # main plus opens first
    assert rig.m.state is S.NORMAL
    rig.run(QUIET, SETTINGS.open_delay_s + 0.02)
    assert rig.m.command == OPEN
    assert rig.m.state is S.STANDBY
    assert [e.command for e in rig.m.events[before:] if isinstance(e, ContactorEvent)] == \
        [MINUS, OPEN]


@pytest.mark.parametrize("state", [S.NORMAL, S.CHARGE])
def test_fatal_opens_and_goes_to_error(state: MasterState) -> None:
    rig = Rig(start=state)
    request = DRIVE if state is S.NORMAL else CHARGE
    rig.step(replace(QUIET, request=request, fatal_due="cell_overvoltage_msl at module 1 #3",
                     fatal_active=True))
    assert rig.m.state is S.ERROR
    assert rig.m.command == MINUS
    rig.run(replace(QUIET, request=request, fatal_active=True), 0.1)
    assert rig.m.command == OPEN


def test_fatal_during_precharge() -> None:
    rig = Rig(precharge_s=None)
    rig.run(replace(QUIET, request=DRIVE), 0.5)
    rig.run(replace(QUIET, request=DRIVE, fatal_due="slave_lost", fatal_active=True), 0.1)
    assert (rig.m.state, rig.m.command) == (S.ERROR, OPEN)


def test_break_current_wait_until_the_current_falls() -> None:
    rig = Rig(start=S.NORMAL)
    fault = replace(QUIET, request=DRIVE, fatal_due="discharge_overcurrent_msl",
                    fatal_active=True, current_a=-450.0)
    rig.run(fault, 1.0)
    assert rig.m.state is S.ERROR
    assert rig.m.command == CLOSED  # never opened above the break limit
    rig.run(replace(fault, current_a=-20.0), 0.1)
    assert rig.m.command == OPEN
    notices = [e.text for e in rig.m.events if isinstance(e, NoticeEvent)]
    assert notices[0] == "opening deferred: 450 A is above the 300 A break limit"
    assert notices[1].startswith("opening after waiting 1.0")


def test_break_current_wait_is_bounded() -> None:
    rig = Rig(start=S.NORMAL)
    rig.run(replace(QUIET, request=DRIVE, fatal_due="discharge_overcurrent_msl",
                    fatal_active=True, current_a=-450.0), SETTINGS.break_wait_s + 0.2)
    assert rig.m.command == OPEN
    notices = [e.text for e in rig.m.events if isinstance(e, NoticeEvent)]
    assert notices[-1] == "opening at 450 A after waiting 3 s: the current did not fall"


def test_error_needs_no_fatal_and_a_fresh_reset_request() -> None:
    rig = Rig(start=S.NORMAL)
    rig.run(replace(QUIET, request=DRIVE, reset_faults=True), 0.1)  # a reset held beforehand
    rig.run(replace(QUIET, request=DRIVE, reset_faults=True, fatal_due="slave_lost",
                    fatal_active=True), 0.2)
    assert rig.m.state is S.ERROR
    rig.run(replace(QUIET, request=DRIVE, reset_faults=True), 0.2)  # still the old request
    assert rig.m.state is S.ERROR
    rig.step(replace(QUIET, request=DRIVE, reset_faults=False))
    rig.step(replace(QUIET, request=DRIVE, reset_faults=True, fatal_active=True))
    assert rig.m.state is S.ERROR  # refused: a fatal cause remains
    assert isinstance(rig.m.events[-1], NoticeEvent)
    rig.step(replace(QUIET, request=DRIVE, reset_faults=False))
    rig.step(replace(QUIET, request=DRIVE, reset_faults=True))
    assert rig.m.state is S.STANDBY


def test_drive_and_charge_switch_without_reopening() -> None:
    rig = Rig(start=S.NORMAL)
    rig.step(replace(QUIET, request=CHARGE))
    assert (rig.m.state, rig.m.command) == (S.CHARGE, CLOSED)


def test_lost_request_opens() -> None:
    rig = Rig(start=S.NORMAL)
    rig.run(replace(QUIET, request=None), 0.1)
    assert (rig.m.state, rig.m.command) == (S.STANDBY, OPEN)
