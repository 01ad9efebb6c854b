"""The simulated VCU: state request and heartbeat on the vehicle bus, the vehicle's load on
the simulation bus, and a log of the BMS status it receives.

While the BMS is NORMAL (drive) the load follows the configured profile; in CHARGE it is a
constant charge current, unless a charger is configured (then the charger delivers it);
otherwise nothing. Like a real VCU it keeps within the current limits the BMS sends
(BmsLimits), and it ends a charge by itself (back to standby): with a charger when the BMS
says ChargeComplete, without one once the BMS's charge limit has stayed below the
termination current (constant current, then the taper the limits impose, then done).
Driven from `bms inject vcu` (a new request, a fault-reset pulse, a heartbeat silence) and
from scenarios.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bms.chemistry import cell_capacity_ah
from bms.settings import CurrentStep, Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, sim_codec, vehicle_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import MasterState
from dbc.sim_frames import LoadDemand, VcuCommand, VcuCommandRequest
from dbc.vehicle_frames import BmsLimits, BmsStatus, RequestedState, VcuRequest
from sim.current_profile import CurrentProfile

RESET_PULSE_S: Final = 0.5
CHARGE_CURRENT_C_RATE: Final = 0.5
TERMINATION_C_RATE: Final = 0.05  # a charge ends when the BMS allows less than C/20 ...
TERMINATION_HOLD_S: Final = 10.0  # ... for this long
REQUESTS = {"standby": RequestedState.STANDBY, "drive": RequestedState.DRIVE,
            "charge": RequestedState.CHARGE}
COMMANDED = {VcuCommandRequest.STANDBY: RequestedState.STANDBY,
             VcuCommandRequest.DRIVE: RequestedState.DRIVE,
             VcuCommandRequest.CHARGE: RequestedState.CHARGE}


@dataclass(frozen=True)
class PeerOutputs:
    """What a simulated peer sends this step: on the vehicle bus and on the simulation bus."""

    vehicle: list[CanFrame]
    sim: list[CanFrame]


class VcuSim:
    def __init__(self, settings: Settings, now_s: float) -> None:
        vcu = settings.sim.vcu
        self.profile = CurrentProfile(vcu.profile, cell_capacity_ah(settings))
        self.charge_current_a = CHARGE_CURRENT_C_RATE * cell_capacity_ah(settings)
        # with a charger on the bus the charger delivers the charge and says when it is done
        self.charger_present = settings.endpoints.charger != "none"
        self.present = settings.endpoints.vcu  # a pack without a VCU: this one stays silent
        self.termination_a = TERMINATION_C_RATE * cell_capacity_ah(settings)
        self.limits: BmsLimits | None = None
        self.obey_limits = True  # False: a misbehaving vehicle (protection tests)
        self.balancing_disabled = False
        self.balancing_threshold_mv = 0
        self.charge_completed_s: float | None = None
        self._below_termination_since_s: float | None = None
        self.request = RequestedState.STANDBY
        self._planned = REQUESTS[vcu.request]
        self._planned_at_s = now_s + vcu.start_delay_s
        self.receiver = FrameReceiver(vehicle_codec(), settings.master.e2e_max_lost_frames,
                                      "Vcu")
        self.sim_receiver = FrameReceiver(sim_codec(), 0, "Vcu")
        self.sender = FrameSender(vehicle_codec())
        self.sim_sender = FrameSender(sim_codec())
        self.status: BmsStatus | None = None
        self.status_changes: list[tuple[float, BmsStatus]] = []
        self._schedule = Schedule(vcu.period_s, now_s)
        self._reset_until_s = -math.inf
        self._service_reset_until_s = -math.inf
        self._silent_until_s = -math.inf
        self._driving_s = 0.0
        self._last_s = now_s

    def on_vehicle_frame(self, frame: CanFrame, now_s: float) -> None:
        reception = self.receiver.receive(frame)
        if reception is not None and isinstance(reception.frame, BmsStatus):
            if self.status is None or reception.frame != self.status:
                self.status_changes.append((now_s, reception.frame))
            self.status = reception.frame
        elif reception is not None and isinstance(reception.frame, BmsLimits):
            self.limits = reception.frame

    def on_sim_frame(self, frame: CanFrame, now_s: float) -> None:
        reception = self.sim_receiver.receive(frame)
        command = reception.frame if reception is not None else None
        if not isinstance(command, VcuCommand):
            return
        if command.request in COMMANDED:
            self.request = COMMANDED[command.request]
            self._planned_at_s = math.inf  # an explicit request replaces the plan
        if command.reset_faults:
            self._reset_until_s = now_s + RESET_PULSE_S
        if command.service_reset:
            self._service_reset_until_s = now_s + RESET_PULSE_S
        if command.silence_heartbeat_s > 0:
            self._silent_until_s = now_s + command.silence_heartbeat_s

    def drive_profile(self, steps: Sequence[CurrentStep], capacity_ah: float) -> None:
        """Drive with this profile from its start (scenarios)."""
        self.profile = CurrentProfile(steps, capacity_ah)
        self._driving_s = 0.0

    def demand_a(self) -> float:
        """What the vehicle wants now, before the BMS's limits."""
        status = self.status
        if status is None or not (status.contactors.main_plus and status.contactors.main_minus):
            return 0.0
        if status.state is MasterState.NORMAL:
            return self.profile.current_a(self._driving_s)
        if status.state is MasterState.CHARGE and not self.charger_present:
            return self.charge_current_a
        return 0.0

    def load_a(self) -> float:
        demand = self.demand_a()
        if self.limits is None or not self.obey_limits:
            return demand
        return min(max(demand, -self.limits.discharge_a), self.limits.charge_a)

    def _end_of_charge(self, now_s: float) -> None:
        charging = self.status is not None and self.status.state is MasterState.CHARGE and \
            self.request is RequestedState.CHARGE
        if charging and self.charger_present:
            if self.status is not None and self.status.charge_complete:
                self.request = RequestedState.STANDBY
                self.charge_completed_s = now_s
            return
        if not charging or self.limits is None or self.limits.charge_a >= self.termination_a:
            self._below_termination_since_s = None
            return
        if self._below_termination_since_s is None:
            self._below_termination_since_s = now_s
        elif now_s - self._below_termination_since_s >= TERMINATION_HOLD_S:
            self.request = RequestedState.STANDBY
            self.charge_completed_s = now_s

    def tick(self, now_s: float) -> PeerOutputs:
        if now_s >= self._planned_at_s:
            self.request, self._planned_at_s = self._planned, math.inf
        if self.status is not None and self.status.state is MasterState.NORMAL:
            self._driving_s += now_s - self._last_s
        self._last_s = now_s
        self._end_of_charge(now_s)
        if not self._schedule.due(now_s) or not self.present:
            return PeerOutputs([], [])
        vehicle = []
        if now_s >= self._silent_until_s:
            vehicle.append(self.sender.encode(VcuRequest(
                self.request, reset_faults=now_s < self._reset_until_s,
                service_reset=now_s < self._service_reset_until_s,
                balancing_disabled=self.balancing_disabled,
                balancing_threshold_mv=self.balancing_threshold_mv)))
        return PeerOutputs(vehicle, [self.sim_sender.encode(LoadDemand(self.load_a()))])
