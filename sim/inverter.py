"""The simulated battery inverter: the inverter side of the CAN-BMS protocol (docs/PROTOCOLS.md
section 4).

It wants the battery current of its profile (solar surplus charges, the house load
discharges) and obeys what the BMS allows: the charge and discharge current limits of
0x351 and the enable flags of 0x35C. It stops (0 A) when 0x351 has been missing for
``limits_timeout_s``, as real inverters do, and sends its 0x305 keep-alive every second.
The current it moves goes to the HV box on the simulation bus.
"""

from __future__ import annotations

from bms.chemistry import cell_capacity_ah
from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, sim_codec, vehicle_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.inverter_frames import InverterKeepAlive, InverterLimits, PylonRequests
from dbc.sim_frames import InverterOutput
from sim.current_profile import CurrentProfile
from sim.vcu import PeerOutputs


class InverterSim:
    def __init__(self, settings: Settings, now_s: float) -> None:
        self.settings = settings.sim.inverter
        self.profile = CurrentProfile(self.settings.profile, cell_capacity_ah(settings))
        self.receiver = FrameReceiver(vehicle_codec(), 0, "Inverter")
        self.sender = FrameSender(vehicle_codec())
        self.sim_sender = FrameSender(sim_codec())
        self.limits: InverterLimits | None = None
        self.limits_at_s: float | None = None
        self.requests: PylonRequests | None = None
        self.started_s = now_s
        self.current_a = 0.0
        self._keep_alive = Schedule(self.settings.keep_alive_period_s, now_s)
        self._output = Schedule(self.settings.output_period_s, now_s)

    def on_vehicle_frame(self, frame: CanFrame, now_s: float) -> None:
        reception = self.receiver.receive(frame)
        decoded = reception.frame if reception is not None else None
        if isinstance(decoded, InverterLimits):
            self.limits, self.limits_at_s = decoded, now_s
        elif isinstance(decoded, PylonRequests):
            self.requests = decoded

    def connected(self, now_s: float) -> bool:
        return self.limits_at_s is not None and \
            now_s - self.limits_at_s <= self.settings.limits_timeout_s

    def wanted_a(self, now_s: float) -> float:
        return self.profile.current_a(now_s - self.started_s)

    def allowed_a(self, wanted_a: float, now_s: float) -> float:
        limits, requests = self.limits, self.requests
        if limits is None or not self.connected(now_s):
            return 0.0
        if wanted_a > 0:
            enabled = requests is None or requests.charge_enable
            return min(wanted_a, limits.charge_current_a) if enabled else 0.0
        enabled = requests is None or requests.discharge_enable
        return max(wanted_a, -limits.discharge_current_a) if enabled else 0.0

    def tick(self, now_s: float) -> PeerOutputs:
        vehicle: list[CanFrame] = []
        sim: list[CanFrame] = []
        if self._output.due(now_s):
            self.current_a = self.allowed_a(self.wanted_a(now_s), now_s)
            sim.append(self.sim_sender.encode(InverterOutput(self.current_a)))
        if self._keep_alive.due(now_s):
            vehicle.append(self.sender.encode(InverterKeepAlive()))
        return PeerOutputs(vehicle, sim)
