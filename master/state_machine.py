"""The BMS state machine: INIT, STANDBY, PRECHARGE, NORMAL, CHARGE, ERROR, with precharge.

Close: main minus, then the precharge relay; once |V_pack - V_bus| and |I| are below their
thresholds, main plus, then the precharge relay opens. A precharge that does not finish in
time opens everything, pauses and retries; after the last try the machine goes to ERROR.
Open (safe order): main plus first, main minus ``open_delay_s`` later, but never while the
current is above the contactors' break limit: then it waits (bounded) for the current to
fall or the fuse to act, and says so.

Pure: `step(inputs, now)` returns nothing; read `command`, `state` and drain `events`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bms.settings import ContactorSettings
from dbc.frames import OPEN, Contactors, MasterState
from dbc.vehicle_frames import RequestedState
from master.events import ContactorEvent, MasterEvent, NoticeEvent, StateEvent

MINUS = Contactors(main_minus=True)
PRECHARGING = Contactors(main_minus=True, precharge=True)
PLUS_WITH_PRECHARGE = Contactors(main_plus=True, main_minus=True, precharge=True)
CLOSED = Contactors(main_plus=True, main_minus=True)


class Phase(enum.Enum):
    IDLE = "idle"
    CLOSE_MINUS = "close_minus"
    PRECHARGING = "precharging"
    CLOSE_PLUS = "close_plus"
    OPEN_PRECHARGE = "open_precharge"
    PAUSE = "pause"  # between precharge tries
    BREAK_WAIT = "break_wait"  # current above the break limit: not opening yet
    OPENING_PLUS = "opening_plus"  # main plus opened, main minus follows


@dataclass(frozen=True)
class StateInputs:
    request: RequestedState | None  # None: no valid VCU request
    reset_faults: bool
    fatal_due: str | None  # why a fatal reaction is due (reaction delay passed), else None
    fatal_active: bool
    closing_blocked: str | None  # why closing is not allowed now, else None
    pack_voltage_v: float | None
    bus_voltage_v: float | None
    current_a: float | None
    feedback: Contactors | None


class StateMachine:
    def __init__(self, settings: ContactorSettings, now_s: float) -> None:
        self.settings = settings
        self.state = MasterState.INIT
        self.phase = Phase.IDLE
        self.command = OPEN
        self.events: list[MasterEvent] = []
        self.precharge_failed = False  # one-shot: the core observes it once, then clears it
        self._phase_since_s = now_s
        self._tries = 0
        self._after_open = MasterState.STANDBY
        self._reset_seen = False
        self._opening_reason = ""

    # --- helpers -------------------------------------------------------------------------

    def _go(self, state: MasterState, reason: str, now_s: float) -> None:
        if state is not self.state:
            self.events.append(StateEvent(now_s, self.state, state, reason))
            self.state = state

    def _phase(self, phase: Phase, now_s: float) -> None:
        self.phase = phase
        self._phase_since_s = now_s

    def _command(self, contactors: Contactors, reason: str, now_s: float) -> None:
        if contactors != self.command:
            self.command = contactors
            self.events.append(ContactorEvent(now_s, contactors, reason))

    def _elapsed(self, now_s: float) -> float:
        return now_s - self._phase_since_s

    def _confirmed(self, inputs: StateInputs, wanted: Contactors) -> bool:
        return inputs.feedback == wanted

    def _wants_close(self, inputs: StateInputs) -> bool:
        return inputs.request in (RequestedState.DRIVE, RequestedState.CHARGE)

    def _target_of(self, inputs: StateInputs) -> MasterState:
        return MasterState.CHARGE if inputs.request is RequestedState.CHARGE else \
            MasterState.NORMAL

    # --- opening ---------------------------------------------------------------------------

    def _begin_open(self, then: MasterState, reason: str, now_s: float) -> None:
        self._after_open = then
        if self.command == OPEN:
            self._phase(Phase.IDLE, now_s)
            return
        if self.phase not in (Phase.BREAK_WAIT, Phase.OPENING_PLUS):
            self._opening_reason = reason
            self._phase(Phase.BREAK_WAIT, now_s)

    def _continue_open(self, inputs: StateInputs, now_s: float) -> bool:
        """Advance the opening sequence; True once everything is commanded open."""
        s = self.settings
        if self.phase is Phase.BREAK_WAIT:
            current = inputs.current_a
            too_high = current is not None and abs(current) > s.max_break_current_a
            if too_high and self._elapsed(now_s) < s.break_wait_s:
                if self._elapsed(now_s) == 0.0:
                    self.events.append(NoticeEvent(
                        now_s, f"opening deferred: {abs(current or 0):.0f} A is above the "
                               f"{s.max_break_current_a:.0f} A break limit"))
                return False
            if too_high:
                self.events.append(NoticeEvent(
                    now_s, f"opening at {abs(current or 0):.0f} A after waiting "
                           f"{s.break_wait_s:g} s: the current did not fall"))
            elif self._elapsed(now_s) > 0.0:
                self.events.append(NoticeEvent(
                    now_s, f"opening after waiting {self._elapsed(now_s):.2f} s for the "
                           "current to fall below the break limit"))
            if self.command.main_plus:
                self._command(Contactors(main_minus=self.command.main_minus),
                              f"{self._opening_reason}: main plus first", now_s)
                self._phase(Phase.OPENING_PLUS, now_s)
                return False
            self._command(OPEN, self._opening_reason, now_s)
            self._phase(Phase.IDLE, now_s)
            return True
        if self.phase is Phase.OPENING_PLUS:
            if self._elapsed(now_s) < s.open_delay_s:
                return False
            self._command(OPEN, f"{self._opening_reason}: then main minus", now_s)
            self._phase(Phase.IDLE, now_s)
            return True
        return self.command == OPEN

    # --- the machine -------------------------------------------------------------------------

    def step(self, inputs: StateInputs, now_s: float) -> None:
        reset_edge = inputs.reset_faults and not self._reset_seen
        self._reset_seen = inputs.reset_faults
        if inputs.fatal_due is not None and self.state is not MasterState.ERROR:
            self._go(MasterState.ERROR, inputs.fatal_due, now_s)
            self._begin_open(MasterState.ERROR, inputs.fatal_due, now_s)
        if self.state is MasterState.INIT:
            if inputs.closing_blocked is None and not inputs.fatal_active:
                self._go(MasterState.STANDBY, "every module, sensor and contactor box present",
                         now_s)
        elif self.state is MasterState.STANDBY:
            self._standby(inputs, now_s)
        elif self.state is MasterState.PRECHARGE:
            self._precharge(inputs, now_s)
        elif self.state in (MasterState.NORMAL, MasterState.CHARGE):
            self._closed(inputs, now_s)
        elif self.state is MasterState.ERROR:
            self._error(inputs, reset_edge, now_s)

    def _standby(self, inputs: StateInputs, now_s: float) -> None:
        if not self._continue_open(inputs, now_s):
            return
        if not self._wants_close(inputs):
            return
        if inputs.closing_blocked is not None or inputs.fatal_active:
            return  # the VCU sees ClosingBlocked in BmsStatus
        self._tries = 0
        self._go(MasterState.PRECHARGE, f"VCU requests {inputs.request.name.lower()}"
                 if inputs.request else "request", now_s)
        self._start_try(now_s)

    def _start_try(self, now_s: float) -> None:
        self._tries += 1
        self._command(MINUS, f"precharge try {self._tries}: main minus", now_s)
        self._phase(Phase.CLOSE_MINUS, now_s)

    def _precharge(self, inputs: StateInputs, now_s: float) -> None:
        s = self.settings
        if not self._wants_close(inputs) or inputs.closing_blocked is not None:
            reason = "request withdrawn" if not self._wants_close(inputs) else \
                str(inputs.closing_blocked)
            self._command(OPEN, f"precharge aborted: {reason}", now_s)
            self._phase(Phase.IDLE, now_s)
            self._go(MasterState.STANDBY, f"precharge aborted: {reason}", now_s)
            return
        if self.phase is Phase.CLOSE_MINUS:
            if self._confirmed(inputs, MINUS):
                self._command(PRECHARGING, "main minus closed: precharge relay", now_s)
                self._phase(Phase.PRECHARGING, now_s)
        elif self.phase is Phase.PRECHARGING:
            pack, bus, current = inputs.pack_voltage_v, inputs.bus_voltage_v, inputs.current_a
            done = (pack is not None and bus is not None and current is not None
                    and abs(pack - bus) < s.precharge_voltage_threshold_v
                    and abs(current) < s.precharge_current_threshold_a)
            if done:
                self._command(PLUS_WITH_PRECHARGE, "precharged: main plus", now_s)
                self._phase(Phase.CLOSE_PLUS, now_s)
            elif self._elapsed(now_s) > s.precharge_timeout_s:
                gap = "unknown" if pack is None or bus is None else f"{abs(pack - bus):.1f} V"
                self._command(OPEN, f"precharge try {self._tries} timed out", now_s)
                self.events.append(NoticeEvent(
                    now_s, f"precharge try {self._tries} of {s.precharge_tries} failed after "
                           f"{s.precharge_timeout_s:g} s: pack-bus gap {gap}"))
                if self._tries >= s.precharge_tries:
                    self.precharge_failed = True
                    self._phase(Phase.IDLE, now_s)
                    self._go(MasterState.ERROR, f"precharge failed {self._tries} times", now_s)
                else:
                    self._phase(Phase.PAUSE, now_s)
        elif self.phase is Phase.PAUSE:
            if self._elapsed(now_s) >= s.precharge_pause_s:
                self._start_try(now_s)
        elif self.phase is Phase.CLOSE_PLUS:
            if self._confirmed(inputs, PLUS_WITH_PRECHARGE):
                self._command(CLOSED, "main plus closed: precharge relay opens", now_s)
                self._phase(Phase.OPEN_PRECHARGE, now_s)
        elif self.phase is Phase.OPEN_PRECHARGE and self._confirmed(inputs, CLOSED):
            self._phase(Phase.IDLE, now_s)
            self._go(self._target_of(inputs), "contactors closed", now_s)

    def _closed(self, inputs: StateInputs, now_s: float) -> None:
        if self.phase in (Phase.BREAK_WAIT, Phase.OPENING_PLUS):
            if self._continue_open(inputs, now_s):
                self._go(self._after_open, "contactors open", now_s)
            return
        if not self._wants_close(inputs):
            reason = "VCU requests standby" if inputs.request is not None else \
                "no valid VCU request"
            self._begin_open(MasterState.STANDBY, reason, now_s)
            if self._continue_open(inputs, now_s):
                self._go(MasterState.STANDBY, reason, now_s)
            return
        target = self._target_of(inputs)
        if target is not self.state:
            self._go(target, f"VCU requests {inputs.request.name.lower()}"
                     if inputs.request else "request", now_s)

    def _error(self, inputs: StateInputs, reset_edge: bool, now_s: float) -> None:
        if not self._continue_open(inputs, now_s):
            return
        if not reset_edge:
            return
        if inputs.fatal_active:
            self.events.append(NoticeEvent(now_s, "fault reset refused: a fatal cause remains"))
            return
        self._go(MasterState.STANDBY, "fault reset by the VCU", now_s)

    def restore_error(self, reason: str, now_s: float) -> None:
        """ERROR from before a restart (the contactors are open at start): left, as before,
        only by a fault reset with no fatal cause left."""
        self._go(MasterState.ERROR, f"{reason} (restored: the master restarted in ERROR)",
                 now_s)

    def take_precharge_failure(self) -> bool:
        failed, self.precharge_failed = self.precharge_failed, False
        return failed
