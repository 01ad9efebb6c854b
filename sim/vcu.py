"""The simulated VCU: state request and heartbeat on the vehicle bus, the vehicle's load on
the simulation bus, and a log of the BMS status it receives.

While the BMS is NORMAL (drive) the load follows the configured profile; in CHARGE it is a
constant charge current; otherwise nothing. Driven from `bms inject vcu`: a new request, a
fault-reset pulse, a heartbeat silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bms.chemistry import cell_capacity_ah
from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, sim_codec, vehicle_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import MasterState
from dbc.sim_frames import LoadDemand, VcuCommand, VcuCommandRequest
from dbc.vehicle_frames import BmsStatus, RequestedState, VcuRequest
from sim.current_profile import CurrentProfile

RESET_PULSE_S = 0.5
CHARGE_CURRENT_C_RATE = 0.5
REQUESTS = {"standby": RequestedState.STANDBY, "drive": RequestedState.DRIVE,
            "charge": RequestedState.CHARGE}
COMMANDED = {VcuCommandRequest.STANDBY: RequestedState.STANDBY,
             VcuCommandRequest.DRIVE: RequestedState.DRIVE,
             VcuCommandRequest.CHARGE: RequestedState.CHARGE}


@dataclass(frozen=True)
class VcuOutputs:
    vehicle: list[CanFrame]
    sim: list[CanFrame]


class VcuSim:
    def __init__(self, settings: Settings, now_s: float) -> None:
        vcu = settings.sim.vcu
        self.profile = CurrentProfile(vcu.profile, cell_capacity_ah(settings))
        self.charge_current_a = CHARGE_CURRENT_C_RATE * cell_capacity_ah(settings)
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

    def load_a(self) -> float:
        status = self.status
        if status is None or not (status.contactors.main_plus and status.contactors.main_minus):
            return 0.0
        if status.state is MasterState.NORMAL:
            return self.profile.current_a(self._driving_s)
        if status.state is MasterState.CHARGE:
            return self.charge_current_a
        return 0.0

    def tick(self, now_s: float) -> VcuOutputs:
        if now_s >= self._planned_at_s:
            self.request, self._planned_at_s = self._planned, math.inf
        if self.status is not None and self.status.state is MasterState.NORMAL:
            self._driving_s += now_s - self._last_s
        self._last_s = now_s
        if not self._schedule.due(now_s):
            return VcuOutputs([], [])
        vehicle = []
        if now_s >= self._silent_until_s:
            vehicle.append(self.sender.encode(VcuRequest(
                self.request, reset_faults=now_s < self._reset_until_s,
                service_reset=now_s < self._service_reset_until_s)))
        return VcuOutputs(vehicle, [self.sim_sender.encode(LoadDemand(self.load_a()))])
