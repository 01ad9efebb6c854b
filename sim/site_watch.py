"""What the virtual site's launcher sees of the running site, from outside it: the site's
own telemetry and every pack's from the site broker, and the limits the site sends on its
inverter's bus.

It keeps the newest of each for the live view, when each pack first joined (connected: its
own state says NORMAL or CHARGE with both main contactors closed), and checks every limits
frame on the inverter's bus against what the packs connected at that moment allow: the sum
of their own limits (the site may promise less, never more). The site acts on a pack's
message a tick after it, and the watch may hear the message first: a frame is held to the
largest sum of the last ``LAG_S``. Pure: the MQTT and CAN adapters are sim/site_run.py's.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from dbc.codec import CanFrame, inverter_codec
from dbc.endpoint import FrameReceiver
from dbc.inverter_frames import HvLimits, InverterLimits
from master.telemetry.payloads import unpack
from sitectl.payload import site_topic

CLOSED_STATES: Final = ("NORMAL", "CHARGE")
LAG_S: Final = 1.0
TOLERANCE_A: Final = 0.5  # the frames' 0.1 A, the payloads' rounding to 0.01 A
PACK_KINDS: Final = ("state", "limits")


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass
class PackSeen:
    """A pack as its own telemetry says (master/telemetry/payloads.py), read here apart from
    the site controller's reading of it: the watch checks the site, it does not share its
    parser."""

    name: str
    state_t: float | None = None  # the pack's time of its newest state
    limits_t: float | None = None
    state: str = "UNKNOWN"
    main_closed: bool = False
    voltage_v: float = math.nan
    current_a: float = 0.0
    soc_pct: float | None = None
    charge_limit_a: float = 0.0
    discharge_limit_a: float = 0.0

    @property
    def connected(self) -> bool:
        return self.main_closed and self.state in CLOSED_STATES

    def take(self, kind: str, data: dict[str, Any]) -> bool:
        """A state or limits message; False when it is older or cannot be read."""
        t = _number(data, "t")
        if kind == "state":
            contactors, state = data.get("contactors"), data.get("state")
            voltage_v, current_a = _number(data, "voltage_v"), _number(data, "current_a")
            if t is None or (self.state_t is not None and t <= self.state_t) or \
                    not isinstance(contactors, dict) or not isinstance(state, str) or \
                    voltage_v is None or current_a is None:
                return False
            self.state_t, self.state, self.voltage_v, self.current_a = \
                t, state, voltage_v, current_a
            self.main_closed = contactors.get("main_plus") is True and \
                contactors.get("main_minus") is True
            self.soc_pct = _number(data, "soc_pct")
            return True
        if kind == "limits":
            charge_a, discharge_a = _number(data, "charge_a"), _number(data, "discharge_a")
            if t is None or (self.limits_t is not None and t <= self.limits_t) or \
                    charge_a is None or discharge_a is None:
                return False
            self.limits_t = t
            self.charge_limit_a, self.discharge_limit_a = max(0.0, charge_a), \
                max(0.0, discharge_a)
            return True
        return False


@dataclass(frozen=True)
class Join:
    pack: str
    t_s: float  # since the watch started
    voltage_v: float  # the pack's, as it reported itself connected
    bus_v: float | None  # the site's bus voltage then, before it joined


@dataclass(frozen=True)
class Steering:
    t_s: float  # since the watch started
    direction: str  # both, charge, discharge
    reason: str


@dataclass
class LimitsCheck:
    """The site's limits frames against the connected packs' own limits."""

    frames: int = 0
    violations: int = 0
    worst_excess_a: float = 0.0
    first_violation: str = ""
    max_charge_a: float = 0.0  # the largest the site sent, each way
    max_discharge_a: float = 0.0


@dataclass
class SiteWatch:
    packs: tuple[str, ...]
    mqtt_prefix: str
    site_prefix: str
    site_name: str
    protocol: str  # the site inverter's; "none": no frames to check
    start_s: float  # wall time
    views: dict[str, PackSeen] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    report_s: float | None = None  # wall time it arrived
    joins: list[Join] = field(default_factory=list)
    steerings: list[Steering] = field(default_factory=list)  # each change of the site's
    check: LimitsCheck = field(default_factory=LimitsCheck)
    last_limits_a: tuple[float, float] | None = None  # the newest frame's (charge, discharge)
    bad_messages: int = 0
    _allowed: deque[tuple[float, float, float]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.views = {name: PackSeen(name) for name in self.packs}
        self._receiver = FrameReceiver(inverter_codec(self.protocol), 0, "Inverter") \
            if self.protocol != "none" else None
        self._site_topic = site_topic(self.site_prefix, self.site_name)

    def topics(self) -> list[str]:
        return [self._site_topic, *(f"{self.mqtt_prefix}/{pack}/{kind}"
                                    for pack in self.packs for kind in PACK_KINDS)]

    # --- inputs -------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes, now_s: float) -> None:
        try:
            data = unpack(payload)
        except ValueError:
            self.bad_messages += 1
            return
        if topic == self._site_topic:
            self.report, self.report_s = data, now_s
            direction, reason = str(data.get("steering")), str(data.get("steering_reason"))
            if not self.steerings or (self.steerings[-1].direction, self.steerings[-1].reason
                                      .partition(":")[0]) != (direction, reason.partition(":")[0]):
                self.steerings.append(Steering(now_s - self.start_s, direction, reason))
            return
        pack, _, kind = topic.removeprefix(f"{self.mqtt_prefix}/").partition("/")
        view = self.views.get(pack)
        if view is None or not view.take(kind, data):
            return
        if kind == "state" and view.connected and pack not in self.joined():
            self.joins.append(Join(pack, now_s - self.start_s, view.voltage_v,
                                   self.bus_voltage_v()))
        self._allowed.append((now_s, *self.connected_limits_a()))
        while len(self._allowed) > 1 and self._allowed[1][0] <= now_s - LAG_S:
            self._allowed.popleft()  # the first kept is the one in force LAG_S ago

    def on_inverter_frame(self, frame: CanFrame, now_s: float) -> None:
        if self._receiver is None:
            return
        reception = self._receiver.receive(frame)
        limits = reception.frame if reception is not None else None
        if not isinstance(limits, HvLimits | InverterLimits):
            return
        charge_a, discharge_a = limits.charge_current_a, limits.discharge_current_a
        self.last_limits_a = (charge_a, discharge_a)
        check = self.check
        check.frames += 1
        check.max_charge_a = max(check.max_charge_a, charge_a)
        check.max_discharge_a = max(check.max_discharge_a, discharge_a)
        allowed_charge_a, allowed_discharge_a = self.allowed_a(now_s)
        excess_a = max(charge_a - allowed_charge_a, discharge_a - allowed_discharge_a)
        if excess_a > TOLERANCE_A:
            check.violations += 1
            if not check.first_violation:
                check.first_violation = (
                    f"t={now_s - self.start_s:.1f} s: the site sent {charge_a:.1f} A charge, "
                    f"{discharge_a:.1f} A discharge; the connected packs allow "
                    f"{allowed_charge_a:.1f} A, {allowed_discharge_a:.1f} A")
        check.worst_excess_a = max(check.worst_excess_a, excess_a)

    # --- what it knows --------------------------------------------------------------------

    def joined(self) -> list[str]:
        return [join.pack for join in self.joins]

    def connected(self) -> list[str]:
        return [name for name, view in self.views.items() if view.connected]

    def connected_limits_a(self) -> tuple[float, float]:
        views = [v for v in self.views.values() if v.connected]
        return (sum(v.charge_limit_a for v in views), sum(v.discharge_limit_a for v in views))

    def allowed_a(self, now_s: float) -> tuple[float, float]:
        """The largest sums of the connected packs' limits over the last ``LAG_S``."""
        since_s = now_s - LAG_S
        before = [entry for entry in self._allowed if entry[0] <= since_s]
        recent = [*before[-1:], *(entry for entry in self._allowed if entry[0] > since_s)]
        if not recent:
            return 0.0, 0.0
        return max(e[1] for e in recent), max(e[2] for e in recent)

    def bus_voltage_v(self) -> float | None:
        value = self.report.get("voltage_v") if self.report else None
        return float(value) if isinstance(value, int | float) and math.isfinite(value) \
            else None

    def site_pack(self, name: str) -> dict[str, Any]:
        """The site's entry of ``name`` in its newest report (empty before one)."""
        for entry in (self.report or {}).get("packs") or ():
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry
        return {}

    def site_roles(self) -> dict[str, str]:
        return {name: str(self.site_pack(name).get("role", "unknown")) for name in self.packs}

    def report_age_s(self, now_s: float) -> float:
        return math.inf if self.report_s is None else now_s - self.report_s
