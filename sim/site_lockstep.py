"""A virtual site in one process on virtual time: N lockstep packs (sim/lockstep.py) on one DC
bus (sim/site_plant.py), the site controller's core (sitectl/core.py) and the site's
inverter (sim/inverters.py), for scenarios and tests. Fast, and the same frames, payloads
and commands as the real processes:

- each pack's master publishes as its service does, every ``mqtt.state_period_s`` (each
  pack at its own phase): its report through master/telemetry/payloads.py's builders, the
  bytes unpacked again, after ``latency_s`` (the brokers and the bridge);
- the site's commands reach a pack's core through master/telemetry/commands.py's parser,
  its expiry and `apply_command`, after the same latency;
- the site's inverter frames are encoded with the protocol's DBC and decoded by the
  simulated inverter, and the inverter's own frames the other way; the inverter's current
  is the bus's.

``cut`` names the packs whose link to the site is down (a broker or bridge outage): their
state messages and the site's commands to them wait (QoS 1 on the bridge's persistent
session: delivered, in order, when the link is back; a command past its expiry is then
refused by the pack), their cells and limits are lost (QoS 0). `Watch` records, every
step, each connected pack's current against its own master's limits at that moment (but
not a pack in ERROR: its limits are 0 while its own protection opens it, and what
circulates through it until then is no site current).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import inverter_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import MasterState
from master.telemetry.commands import CommandError, apply_command, parse_command
from master.telemetry.payloads import cells_payload, limits_payload, state_payload, unpack
from sim.inverter import InverterSim
from sim.inverters import make_inverter_sim
from sim.lockstep import LockstepPack
from sim.site_plant import PacksOnBus, run_until
from sitectl.core import SiteCore, SiteOutputs
from sitectl.service import TICK_S

QOS1_KINDS = ("state",)  # the master's durable topic; cells and limits are live (QoS 0)
SOURCE_PERIOD_S = 0.1  # the packs' Thevenin sources, read this often (sim/site_plant.py)


@dataclass
class Excess:
    """The worst moment a connected pack's current went past its own limit."""

    pack: str
    time_s: float
    current_a: float
    limit_a: float

    @property
    def ratio(self) -> float:
        return abs(self.current_a) / self.limit_a if self.limit_a > 0 else math.inf


@dataclass
class Watch:
    """Each connected pack's current against its own limits, every step."""

    tolerance_a: float = 0.5  # the current sensor's resolution and the published rounding
    steps_over: dict[str, int] = field(default_factory=dict)
    worst: dict[str, Excess] = field(default_factory=dict)
    longest_over_s: dict[str, float] = field(default_factory=dict)  # one stretch above
    _over_since_s: dict[str, float] = field(default_factory=dict)
    max_share_of_limit: dict[str, float] = field(default_factory=dict)
    connected_s: dict[str, float] = field(default_factory=dict)

    def check(self, name: str, pack: LockstepPack, now_s: float, step_s: float) -> None:
        contactors = pack.box.contactors
        if not (contactors.main_plus and contactors.main_minus):
            return
        if pack.master.state is MasterState.ERROR:
            return  # its own protection opens it: its limits are 0 until it has

        self.connected_s[name] = self.connected_s.get(name, 0.0) + step_s
        limits = pack.master.status(now_s).limits  # the published model's
        current_a = pack.box.current_a
        limit_a = limits.charge_a if current_a > 0 else limits.discharge_a
        share = abs(current_a) / limit_a if limit_a > 0 else (math.inf if current_a else 0.0)
        self.max_share_of_limit[name] = max(self.max_share_of_limit.get(name, 0.0), share)
        if abs(current_a) <= limit_a + self.tolerance_a:
            self._over_since_s.pop(name, None)
        else:
            since_s = self._over_since_s.setdefault(name, now_s)
            self.longest_over_s[name] = max(self.longest_over_s.get(name, 0.0),
                                            now_s - since_s + step_s)
            self.steps_over[name] = self.steps_over.get(name, 0) + 1
            worst = self.worst.get(name)
            if worst is None or abs(current_a) - limit_a > abs(worst.current_a) - worst.limit_a:
                self.worst[name] = Excess(name, now_s, current_a, limit_a)

    @property
    def exceeded(self) -> bool:
        return bool(self.steps_over)


@dataclass(order=True)
class _Delivery:
    at_s: float
    seq: int
    target: str = field(compare=False)  # a pack's name, or "" for the site
    kind: str = field(compare=False)
    data: Any = field(compare=False)


class LockstepSite:
    def __init__(self, site_settings: Settings, packs: Sequence[Settings],
                 start_s: float = 0.0, latency_s: float = 0.05) -> None:
        names = [p.pack.name for p in packs]
        if sorted(names) != sorted(site_settings.site.packs):
            raise ValueError(f"the packs {names} are not the site's {site_settings.site.packs}")
        self.settings = site_settings
        self.packs = {p.pack.name: LockstepPack(p, start_s) for p in packs}
        # its profile's C is of one pack ([pack] of the site's configuration)
        self.inverter: InverterSim = make_inverter_sim(site_settings, start_s)
        self.bus = PacksOnBus(list(self.packs.values()), lambda _now: self.inverter.current_a,
                              source_period_s=SOURCE_PERIOD_S)
        self.site = SiteCore(site_settings, start_s)
        codec = inverter_codec(site_settings.endpoints.inverter)
        self._to_inverter = FrameSender(codec)
        self._from_inverter = FrameReceiver(codec, 0, "Master")
        self.latency_s = latency_s
        self.cut: set[str] = set()
        self.watch = Watch()
        self.outputs: list[SiteOutputs] = []  # every report the site made (one a period)
        self.on_outputs: Callable[[SiteOutputs], None] | None = None
        self.commands_refused: list[tuple[str, str]] = []
        count = len(packs)
        self._publish = {p.pack.name: Schedule(p.mqtt.state_period_s,
                                               start_s + i * p.mqtt.state_period_s / count)
                         for i, p in enumerate(packs)}
        self._site_tick = Schedule(TICK_S, start_s)
        self._queue: list[_Delivery] = []
        self._held: dict[str, deque[_Delivery]] = {name: deque() for name in self.packs}
        self._seq = 0

    @property
    def now_s(self) -> float:
        return self.bus.now_s

    def _send(self, target: str, kind: str, data: Any, now_s: float) -> None:
        self._seq += 1
        self._queue.append(_Delivery(now_s + self.latency_s, self._seq, target, kind, data))

    def _publish_pack(self, name: str, pack: LockstepPack, now_s: float) -> None:
        report = pack.master.report(now_s)
        for kind, payload in (("state", state_payload(report, now_s)),
                              ("limits", limits_payload(report, now_s)),
                              ("cells", cells_payload(report, now_s))):
            self._send(name, kind, unpack(payload), now_s)

    def _deliver(self, now_s: float) -> None:
        due = sorted(d for d in self._queue if d.at_s <= now_s)
        if not due:
            return
        self._queue = [d for d in self._queue if d.at_s > now_s]
        for name in [n for n in self._held if n not in self.cut and self._held[n]]:
            due = [*self._held[name], *due]  # the link is back: the session's backlog first
            self._held[name].clear()
        for delivery in due:
            if delivery.target in self.cut:
                # held by the bridge's session (QoS 1), or lost (QoS 0)
                if delivery.kind in QOS1_KINDS or delivery.kind == "command":
                    self._held[delivery.target].append(delivery)
            elif delivery.kind == "command":
                self._command(delivery.target, delivery.data, now_s)
            else:
                self.site.on_message(delivery.target, delivery.kind, delivery.data, now_s)

    def _command(self, name: str, payload: bytes, now_s: float) -> None:
        pack = self.packs[name]
        try:
            command = parse_command(payload)
        except CommandError as exc:
            self.commands_refused.append((name, str(exc)))
            return
        refused = command.expired(now_s) or apply_command(pack.master, command, now_s)
        if refused is not None:
            self.commands_refused.append((name, refused))

    def step(self) -> None:
        now_s = self.now_s
        step_s = self.bus.packs[0].step_s
        self.bus.step()
        out = self.inverter.tick(now_s)
        for frame in out.vehicle:
            reception = self._from_inverter.receive(frame)
            if reception is not None and reception.frame is not None:
                self.site.on_inverter_frame(reception.frame, now_s)
        for name, pack in self.packs.items():
            if self._publish[name].due(now_s):
                self._publish_pack(name, pack, now_s)
            self.watch.check(name, pack, now_s, step_s)
        self._deliver(now_s)
        if self._site_tick.due(now_s):
            outputs = self.site.tick(now_s)
            for decoded in outputs.inverter:
                self.inverter.on_frame(self._to_inverter.encode(decoded), now_s)
            for name, payload in outputs.commands:
                self._send(name, "command", payload, now_s)
            if outputs.report is not None:
                self.outputs.append(outputs)
                if self.on_outputs is not None:
                    self.on_outputs(outputs)

    def run(self, duration_s: float) -> None:
        end_s = self.now_s + duration_s
        while self.now_s < end_s - 1e-9:
            self.step()

    def run_until(self, condition: Callable[[], bool], timeout_s: float) -> float:
        """Step until ``condition`` holds; returns the virtual time it took."""
        return run_until(self, condition, timeout_s)
