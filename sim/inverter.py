"""The simulated battery inverter: what every protocol's inverter side shares, and the
CAN-BMS (SMA / Victron / Pylontech LV) inverter (docs/PROTOCOLS.md section 4).

It wants the battery current of its profile (solar surplus charges, the house load
discharges) and obeys what the BMS allows: the limits frame of its protocol, its enable
flags where the protocol has them. It drops limits outside what it accepts, as real
inverters do (a Sunny Island values outside 41-63 V or above 120 A), moves no current before
it has identified the battery (where its protocol has a handshake), and stops (0 A) when
the limits have been missing for ``limits_timeout_s`` (at least three of the protocol's
limits periods). It sends its own frames every ``keep_alive_period_s``. The current it moves
goes to the HV box on the simulation bus. Its counters (`InverterStatistics`) say what it
moved and what it refused. Each protocol (`sim/inverters.py`) overrides `on_decoded`,
`ready` and `own_frames`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bms.chemistry import cell_capacity_ah
from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, inverter_codec, sim_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import Frame
from dbc.inverter_frames import InverterKeepAlive, InverterLimits, PylonRequests
from dbc.sim_frames import InverterOutput
from master.inverter_can_bms import CAN_BMS_ACCEPTED
from master.inverter_endpoint import AcceptedRange
from sim.current_profile import CurrentProfile
from sim.vcu import PeerOutputs

LIMITS_PERIODS_TO_STOP = 3


@dataclass(frozen=True)
class SeenLimits:
    charge_current_a: float  # magnitudes
    discharge_current_a: float
    charge_voltage_v: float
    discharge_voltage_v: float


@dataclass
class InverterStatistics:
    limits_accepted: int = 0
    limits_rejected: int = 0  # outside what it accepts: dropped
    max_charge_a: float = 0.0  # the largest current it moved, each way
    max_discharge_a: float = 0.0
    charge_s: float = 0.0  # how long it moved current, each way
    discharge_s: float = 0.0


def accepts(accepted: AcceptedRange, limits: SeenLimits) -> bool:
    """Whether an inverter of this protocol takes these limits (else it drops the frame)."""
    low, high = accepted.charge_voltage_v
    low_d, high_d = accepted.discharge_voltage_v
    return (low <= limits.charge_voltage_v <= high and low_d <= limits.discharge_voltage_v
            <= high_d and 0 <= limits.charge_current_a <= accepted.current_max_a
            and 0 <= limits.discharge_current_a <= accepted.current_max_a)


class InverterSim:
    """The inverter side of one protocol; subclasses set the class attributes and override
    `on_decoded`, `ready` and `own_frames`."""

    PROTOCOL: ClassVar[str] = ""
    ACCEPTED: ClassVar[AcceptedRange]
    LIMITS_PERIOD_S: ClassVar[float] = 1.0  # how often the BMS sends (or answers with) limits

    def __init__(self, settings: Settings, now_s: float) -> None:
        self.settings = settings.sim.inverter
        self.profile = CurrentProfile(self.settings.profile, cell_capacity_ah(settings))
        codec = inverter_codec(self.PROTOCOL)
        self.receiver = FrameReceiver(codec, 0, "Inverter")
        self.sender = FrameSender(codec)
        self.sim_sender = FrameSender(sim_codec())
        self.limits: SeenLimits | None = None
        self.limits_at_s: float | None = None
        self.charge_enabled = True
        self.discharge_enabled = True
        self.limits_timeout_s = max(self.settings.limits_timeout_s,
                                    LIMITS_PERIODS_TO_STOP * self.LIMITS_PERIOD_S)
        self.started_s = now_s
        self.current_a = 0.0
        self.statistics = InverterStatistics()
        self._own = Schedule(self.settings.keep_alive_period_s, now_s)
        self._output = Schedule(self.settings.output_period_s, now_s)

    def on_frame(self, frame: CanFrame, now_s: float) -> None:
        """A frame of the inverter's bus (the BMS's, its own too: the receiver drops those)."""
        reception = self.receiver.receive(frame)
        if reception is not None and reception.frame is not None:
            self.on_decoded(reception.frame, now_s)

    def take_limits(self, limits: SeenLimits, now_s: float) -> None:
        if accepts(self.ACCEPTED, limits):
            self.limits, self.limits_at_s = limits, now_s
            self.statistics.limits_accepted += 1
        else:
            self.statistics.limits_rejected += 1

    def connected(self, now_s: float) -> bool:
        return self.ready() and self.limits_at_s is not None and \
            now_s - self.limits_at_s <= self.limits_timeout_s

    def wanted_a(self, now_s: float) -> float:
        return self.profile.current_a(now_s - self.started_s)

    def allowed_a(self, wanted_a: float, now_s: float) -> float:
        limits = self.limits
        if limits is None or not self.connected(now_s):
            return 0.0
        if wanted_a > 0:
            return min(wanted_a, limits.charge_current_a) if self.charge_enabled else 0.0
        return max(wanted_a, -limits.discharge_current_a) if self.discharge_enabled else 0.0

    def tick(self, now_s: float) -> PeerOutputs:
        """This step's frames: on the inverter's bus (``vehicle``) and the simulation bus."""
        bus: list[CanFrame] = []
        sim: list[CanFrame] = []
        if self._output.due(now_s):
            self.current_a = self.allowed_a(self.wanted_a(now_s), now_s)
            self._count(self.current_a)
            sim.append(self.sim_sender.encode(InverterOutput(self.current_a)))
        if self._own.due(now_s):
            bus += [self.sender.encode(f) for f in self.own_frames(now_s)]
        return PeerOutputs(bus, sim)

    def _count(self, current_a: float) -> None:
        stats, period_s = self.statistics, self.settings.output_period_s
        if current_a > 0:
            stats.max_charge_a = max(stats.max_charge_a, current_a)
            stats.charge_s += period_s
        elif current_a < 0:
            stats.max_discharge_a = max(stats.max_discharge_a, -current_a)
            stats.discharge_s += period_s

    # --- the protocol's hooks -----------------------------------------------------------

    def on_decoded(self, frame: Frame, now_s: float) -> None:
        raise NotImplementedError

    def ready(self) -> bool:
        """Whether it has identified the battery (its protocol's handshake is done)."""
        return True

    def own_frames(self, now_s: float) -> list[Frame]:
        raise NotImplementedError


class CanBmsInverterSim(InverterSim):
    """A Sunny Island / Victron: 0x351's limits, 0x35C's flags, its 0x305 keep-alive."""

    PROTOCOL = "can_bms"
    ACCEPTED = CAN_BMS_ACCEPTED

    def on_decoded(self, frame: Frame, now_s: float) -> None:
        if isinstance(frame, InverterLimits):
            self.take_limits(SeenLimits(frame.charge_current_a, frame.discharge_current_a,
                                        frame.charge_voltage_v, frame.discharge_voltage_v),
                             now_s)
        elif isinstance(frame, PylonRequests):
            self.charge_enabled = frame.charge_enable
            self.discharge_enabled = frame.discharge_enable

    def own_frames(self, now_s: float) -> list[Frame]:
        return [InverterKeepAlive()]
