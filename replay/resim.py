"""`bms log resim`: feed a log's slave, sensor, contactor-box and VCU frames into the master's
pure core on the log's own time, and tell what it decided.

The core ticks every ``master.tick_period_s`` of log time; frames are delivered in file
order. The same log and settings give the same timeline, byte for byte. ``compare`` lines the
decisions visible on the bus (contactor commands, master state) up with the ones the real
master sent in the same log and reports the first divergence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bms.settings import Settings
from dbc.codec import CanFrame, pack_codec, vehicle_codec
from dbc.errors import DbcError
from dbc.frames import BalancingCommand, ContactorCommand, Contactors, MasterHeartbeat
from dbc.vehicle_frames import BmsStatus
from master.core import MasterCore, Outputs
from replay.logged import LoggedFrame

MASTER = "Master"
DECISION_MESSAGES = frozenset(t.MESSAGE for t in (MasterHeartbeat, BmsStatus, ContactorCommand,
                                                  BalancingCommand))


@dataclass(frozen=True, slots=True)
class Decision:
    """Something the master decided, as it shows on the bus or in its journal."""

    time_s: float
    kind: str  # "state", "status", "contactors", "diagnosis", "notice", "balancing"
    text: str

    def line(self) -> str:
        return f"{self.time_s:12.3f}  {self.kind:10}  {self.text}"


def contactor_text(contactors: Contactors) -> str:
    closed = [n for n, on in (("main+", contactors.main_plus), ("main-", contactors.main_minus),
                              ("precharge", contactors.precharge)) if on]
    return ", ".join(closed) or "all open"


class BusDecisions:
    """Turns master frames (recorded or re-simulated) into state and contactor decisions."""

    def __init__(self) -> None:
        self._state: str | None = None
        self._status: str | None = None
        self._contactors: Contactors | None = None
        self._balancing: dict[int, BalancingCommand] = {}

    def observe(self, bus: str, frame: CanFrame, time_s: float) -> list[Decision]:
        codec = pack_codec() if bus == "pack" else vehicle_codec()
        try:
            layout, module_id = codec.lookup(frame.arbitration_id, frame.is_extended_id)
            if layout.name not in DECISION_MESSAGES:
                return []  # limits, SOC, status pages: not decisions compared here
            typed, decisions = codec.decode_payload(layout, frame.data), []
        except DbcError:
            return []
        if isinstance(typed, MasterHeartbeat) and typed.state.name != self._state:
            self._state = typed.state.name
            decisions.append(Decision(time_s, "state", self._state))
        if isinstance(typed, BmsStatus):
            status = typed.state.name
            if typed.fault_reason:  # what the VCU is told: the state and why
                reasons = vehicle_codec().layout("BmsStatus").choices("FaultReason")
                status += f" ({reasons.get(typed.fault_reason, typed.fault_reason)})"
            if status != self._status:
                self._status = status
                decisions.append(Decision(time_s, "status", status))
        if isinstance(typed, ContactorCommand) and typed.contactors != self._contactors:
            self._contactors = typed.contactors
            decisions.append(Decision(time_s, "contactors", contactor_text(typed.contactors)))
        if isinstance(typed, BalancingCommand) and self._balancing.get(module_id) != typed:
            self._balancing[module_id] = typed
            decisions.append(Decision(time_s, "balancing",
                                      f"module {module_id}: cells 0x{typed.cells_mask:05X}"
                                      f" for {typed.duration_s} s"))
        return decisions


def bus_of(logged: LoggedFrame) -> str | None:
    """pack or vehicle, by the log's channel label or else by the id."""
    if logged.channel in ("pack", "vehicle"):
        return logged.channel
    if logged.channel == "sim":
        return None
    for name, codec in (("pack", pack_codec()), ("vehicle", vehicle_codec())):
        try:
            codec.lookup(logged.frame.arbitration_id, logged.frame.is_extended_id)
        except DbcError:
            continue
        return name
    return None


def sent_by_master(bus: str, frame: CanFrame) -> bool:
    codec = pack_codec() if bus == "pack" else vehicle_codec()
    try:
        layout, _ = codec.lookup(frame.arbitration_id, frame.is_extended_id)
    except DbcError:
        return False
    return MASTER in layout.senders


@dataclass
class Resimulation:
    timeline: list[Decision]  # everything the re-simulated master decided
    on_bus: list[Decision]  # its state and contactor decisions, as its frames show them
    recorded: list[Decision]  # the real master's, from its frames in the log
    frames: int
    unheard_modules: list[int]  # configured modules the log never carries


def resimulate(frames: Iterable[LoggedFrame], settings: Settings) -> Resimulation:
    core = MasterCore(settings, now_s=0.0)
    tick_s = settings.master.tick_period_s
    next_tick_s = 0.0
    mine, theirs = BusDecisions(), BusDecisions()
    on_bus: list[Decision] = []
    recorded: list[Decision] = []
    timeline: list[Decision] = []
    count = 0

    def emitted(out: Outputs, time_s: float) -> None:
        for bus, sent in (("pack", out.pack), ("vehicle", out.vehicle)):
            for frame in sent:
                for decision in mine.observe(bus, frame, time_s):
                    on_bus.append(decision)
                    if decision.kind == "balancing":
                        timeline.append(decision)
        for event in core.drain_events():
            timeline.append(Decision(event.time_s, _kind(event), event.describe()))

    # (channel, id, extended) -> (bus or None, sent by the master?): resolved once per id
    routes: dict[tuple[str | None, int, bool], tuple[str | None, bool]] = {}
    for logged in frames:
        count += 1
        time_s, frame = logged.time_s, logged.frame
        while next_tick_s <= time_s:
            emitted(core.tick(next_tick_s), next_tick_s)
            next_tick_s = round(next_tick_s + tick_s, 9)
        if logged.is_error_frame:
            emitted(core.on_pack_bus_error(frame.arbitration_id, frame.data, time_s), time_s)
            continue
        key = (logged.channel, frame.arbitration_id, frame.is_extended_id)
        route = routes.get(key)
        if route is None:
            bus = bus_of(logged)
            route = routes[key] = (bus, bus is not None and sent_by_master(bus, frame))
        bus, by_master = route
        if bus is None:
            continue
        if by_master:
            recorded += theirs.observe(bus, frame, time_s)
            continue
        out = core.on_pack_frame(frame, time_s) if bus == "pack" else \
            core.on_vehicle_frame(frame, time_s)
        if out.pack or out.vehicle or core.new_events:
            emitted(out, time_s)
    unheard = list(core.report(next_tick_s).unheard_modules)
    return Resimulation(timeline, on_bus, recorded, count, unheard)


def _kind(event: object) -> str:
    name = type(event).__name__
    return {"StateEvent": "state", "ContactorEvent": "contactors",
            "DiagnosisEvent": "diagnosis"}.get(name, "notice")


@dataclass(frozen=True)
class Divergence:
    index: int  # within the decisions of its kind
    recorded: Decision | None
    resimulated: Decision | None

    @property
    def time_s(self) -> float:
        return min(d.time_s for d in (self.recorded, self.resimulated) if d is not None)

    def describe(self) -> str:
        def show(d: Decision | None) -> str:
            return "nothing" if d is None else f"{d.kind} {d.text!r} at {d.time_s:.3f} s"
        kind = (self.recorded or self.resimulated).kind  # type: ignore[union-attr]
        return (f"first divergence ({kind} decision {self.index + 1}): the log's master: "
                f"{show(self.recorded)}; re-simulated: {show(self.resimulated)}")


COMPARED_KINDS = ("state", "status", "contactors")


def compare(recorded: list[Decision], resimulated: list[Decision], tolerance_s: float,
            from_s: float = 0.0) -> tuple[Divergence | None, int]:
    """The earliest decision that differs in content or time (beyond the tolerance).

    Heartbeat states, BMS statuses (with the fault reason) and contactor commands are compared
    as separate sequences, each only when the log holds it: the real master shows its state
    only in its next periodic frame, so their order within one instant is not meaningful."""
    first: Divergence | None = None
    matched = 0
    for kind in COMPARED_KINDS:
        theirs = [d for d in recorded if d.kind == kind and d.time_s >= from_s]
        if not any(d.kind == kind for d in recorded):
            continue
        mine = [d for d in resimulated if d.kind == kind and d.time_s >= from_s]
        for index in range(max(len(theirs), len(mine))):
            a = theirs[index] if index < len(theirs) else None
            b = mine[index] if index < len(mine) else None
            if a is None or b is None or a.text != b.text or \
                    abs(a.time_s - b.time_s) > tolerance_s:
                divergence = Divergence(index, a, b)
                if first is None or divergence.time_s < first.time_s:
                    first = divergence
                break
            matched += 1
    return first, matched


def timeline_lines(result: Resimulation) -> Iterator[str]:
    for decision in result.timeline:
        yield decision.line()
