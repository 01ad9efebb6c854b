"""The site controller's core: N packs in parallel on one DC bus, presented to one inverter
as one battery (docs/site.md).

It reads each pack's telemetry (`on_message`, unpacked payloads of
master/telemetry/payloads.py), decides every ``site.period_s`` which pack may close onto the
bus (sitectl/joining.py) and asks it through the pack's MQTT command (``state``: ``drive``
to join, ``standby`` to leave; each pack's own state machine decides its contactors), and
computes the site's limits from the connected packs' own (sitectl/allocation.py) whenever a
pack's state or limits arrive. The inverter is spoken to with the project's inverter
protocols (master/inverter_*.py); when the limits fall, the protocol's limits frame goes out
at once, not at its next period. A connected pack silent for ``site.pack_timeout_s`` (its
broker or the bridge down): 0 A both ways and a warning until it is heard again. Pure:
``now_s`` is the wall clock (the packs' payloads carry theirs: the clocks are kept in step).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from bms.chemistry import series_cell
from bms.settings import Settings
from bms.timing import Schedule
from dbc.frames import Frame
from master.diagnosis.limits import resolve_limits
from master.endpoints import pack_description
from master.telemetry.payloads import pack_bytes
from sitectl.allocation import NOTHING, Allocation, Branch, allocate
from sitectl.inverter import SiteInverter
from sitectl.joining import Candidate, Steer, first_pack, gap_text, next_packs, steer
from sitectl.packs import Extreme, PackView
from sitectl.report import PackStatus, SiteReport
from sitectl.resistance import ResistanceTracker

PCT: Final = 100.0
MAX_NOTES: Final = 50
READY_STATES: Final = ("STANDBY",)
LEARNT_STEPS: Final = 6  # steps of current before a pack's resistance counts as learnt
UNLEARNT_MARGIN: Final = 0.2  # on a pack's limits until then, beside site.margin_pct
FALL_FLOOR: Final = 0.5  # a falling limit is foreseen to fall on, to no less than this of it


@dataclass(frozen=True)
class SiteOutputs:
    commands: list[tuple[str, bytes]]  # (pack, its MQTT command payload)
    inverter: list[Frame]
    report: SiteReport | None  # a new report every period, else None


@dataclass
class _Request:
    request: str  # drive, standby
    since_s: float
    sent_s: float


@dataclass
class _Memory:
    """What the site remembers between ticks (nothing of it is a pack's state)."""

    requests: dict[str, _Request] = field(default_factory=dict)
    failed_join_until_s: dict[str, float] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    notes: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=MAX_NOTES))
    commands_sent: int = 0


def _weighted(values: list[tuple[float | None, float]]) -> float | None:
    known = [(v, w) for v, w in values if v is not None and w > 0]
    total = sum(w for _, w in known)
    return sum(v * w for v, w in known) / total if total > 0 else None


def _site_extremes(pairs: list[tuple[Extreme, Extreme] | None]) -> tuple[Extreme, Extreme] | None:
    known = [p for p in pairs if p is not None]
    if not known:
        return None
    return (max((p[0] for p in known), key=lambda e: e.value),
            min((p[1] for p in known), key=lambda e: e.value))


class SiteCore:
    def __init__(self, settings: Settings, now_s: float) -> None:
        self.settings = settings
        self.site = settings.site
        self.views = {name: PackView(name) for name in self.site.packs}
        self.resistances = {name: ResistanceTracker() for name in self.site.packs}
        self._feedback_t: dict[str, float] = {}
        self._beyond: set[str] = set()
        self._limited_at_s = now_s
        self.memory = _Memory()
        self.description = pack_description(settings, resolve_limits(settings))
        # a pack that has not published its learnt resistance yet: its nominal one
        self.nominal_resistance_ohm = series_cell(settings).r0_ohm * settings.pack.cells
        self.inverter = SiteInverter(settings, self.description, now_s)
        self.allocation: Allocation = NOTHING
        self.limits_a = (0.0, 0.0)  # (charge, discharge) as the inverter is told
        self.steering: tuple[Steer, str] = (Steer.BOTH, "")
        self.warnings: tuple[str, ...] = ()
        self._dirty = True
        self._schedule = Schedule(self.site.period_s, now_s)
        self.report: SiteReport | None = None
        self.started_s = now_s
        self.heard_connected: list[PackView] = []
        self._reasons: dict[str, str] = {}

    # --- inputs -------------------------------------------------------------------------

    def on_message(self, pack: str, kind: str, data: dict[str, Any], now_s: float) -> bool:
        """A pack's message (``kind``: the topic after ``<prefix>/<pack>/``)."""
        view = self.views.get(pack)
        if view is None or not view.take(kind, data):
            return False
        if kind == "state" and math.isfinite(view.voltage_v) and view.state_t is not None:
            self.resistances[pack].update(view.state_t, view.voltage_v, view.current_a,
                                          view.resistance_ohm or self.nominal_resistance_ohm)
        if kind in ("state", "limits"):
            self._dirty = True
        return True

    def on_inverter_frame(self, frame: Frame, now_s: float) -> None:
        self.inverter.on_frame(frame, now_s)

    def note(self, text: str, now_s: float) -> None:
        self.memory.notes.append((now_s, text))

    # --- decisions ----------------------------------------------------------------------

    def tick(self, now_s: float) -> SiteOutputs:
        commands: list[tuple[str, bytes]] = []
        report = False
        if self._schedule.due(now_s):
            commands = self._decide(now_s)
            self._dirty = True
            report = True
        if self._dirty:
            self._dirty = False
            self._limit(now_s)
            self.report = self._report(now_s)
        inverter = self.inverter.frames(self.report, self.limits_a, now_s) \
            if self.report is not None else []
        return SiteOutputs(commands, inverter, self.report if report else None)

    def _fresh(self, view: PackView, now_s: float) -> bool:
        return view.age_s(now_s) <= self.site.pack_timeout_s and view.online is not False

    def _role(self, view: PackView, now_s: float) -> tuple[str, str]:
        site = self.site
        if not self._fresh(view, now_s):
            if view.connected:
                return "silent", f"connected, not heard for {view.age_s(now_s):.1f} s"
            return "offline", "not heard" if view.state_t is None else \
                f"not heard for {view.age_s(now_s):.1f} s"
        if view.faults or view.state == "ERROR":
            return "fault", ", ".join(view.faults) or "in ERROR"
        if view.connected:
            return "connected", ""
        request = self.memory.requests.get(view.name)
        if request is not None and request.request == "drive" and \
                now_s - request.since_s <= site.join_timeout_s:
            return "joining", f"asked to join {now_s - request.since_s:.1f} s ago ({view.state})"
        until_s = self.memory.failed_join_until_s.get(view.name, -math.inf)
        if now_s < until_s:
            return "waiting", f"did not join within {site.join_timeout_s:g} s; tries again " \
                              f"in {until_s - now_s:.0f} s"
        if view.state not in READY_STATES:
            return "waiting", f"in {view.state}"
        modules = self.settings.pack.modules
        if view.modules_online is not None and view.modules_online < modules:
            return "waiting", f"{view.modules_online} of {modules} modules online"
        return "ready", ""

    def _decide(self, now_s: float) -> list[tuple[str, bytes]]:
        site, memory = self.site, self.memory
        roles = {name: self._role(view, now_s) for name, view in self.views.items()}
        wanted: dict[str, str] = {}  # pack -> the request it should hold now
        for name, (role, _) in roles.items():
            request = memory.requests.get(name)
            if role in ("connected", "silent") and name in memory.failed_join_until_s:
                wanted[name] = "standby"  # asked to leave (what circulated): until it has
            elif role == "joining" or role in ("connected", "silent"):
                wanted[name] = "drive"
            elif request is not None and request.request == "drive" \
                    and role in ("waiting", "ready") and name not in memory.failed_join_until_s:
                # asked to join and not connected in time: let go, let another try
                memory.failed_join_until_s[name] = now_s + site.join_timeout_s
                self.note(f"{name} did not join within {site.join_timeout_s:g} s", now_s)
                wanted[name] = "standby"
            else:
                wanted[name] = "standby"  # a fault, a pack that opened: it waits
        for name in [n for n, until in memory.failed_join_until_s.items() if now_s >= until]:
            del memory.failed_join_until_s[name]
        for name in self._circulating_beyond(roles, now_s):
            wanted[name] = "standby"
            roles[name] = ("waiting", "left: what circulated beyond its own limit")
        connected = [self.views[n] for n, (role, _) in roles.items() if role == "connected"]
        joining = [n for n, (role, _) in roles.items() if role == "joining"]
        ready = [Candidate(n, self.views[n].voltage_v) for n, (role, _) in roles.items()
                 if role == "ready" and math.isfinite(self.views[n].voltage_v)]
        chosen: list[Candidate] = []
        reasons: dict[str, str] = {}
        bus_v = self._idle_voltage_v(connected)
        if joining:
            for candidate in ready:
                reasons[candidate.name] = f"waits: {joining[0]} is joining"
        elif bus_v is None and not self._all_settled(roles, now_s):
            for candidate in ready:  # the first pack is chosen among all of them
                reasons[candidate.name] = "waits: not every pack is ready yet"
        elif bus_v is None:
            first = first_pack(ready, site.join_voltage_v, site.first)
            chosen = [first] if first is not None else []
            for candidate in ready:
                if candidate is not first and first is not None:
                    reasons[candidate.name] = f"waits: {first.name} precharges the bus"
        else:
            chosen = next_packs(ready, bus_v, site.join_voltage_v)
            for candidate in ready:
                if candidate not in chosen:
                    reasons[candidate.name] = gap_text(candidate, bus_v, site.join_voltage_v)
        for candidate in chosen:
            wanted[candidate.name] = "drive"
            where = "a dead bus" if bus_v is None else f"the bus at {bus_v:.1f} V"
            self.note(f"{candidate.name} asked to join at {candidate.voltage_v:.1f} V onto "
                      f"{where}", now_s)
        outside = [c for c in ready if c not in chosen and bus_v is not None
                   and abs(c.voltage_v - bus_v) > site.join_voltage_v]
        if joining or (chosen and bus_v is not None):
            who = ", ".join(joining or [c.name for c in chosen])
            self.steering = (Steer.HOLD, f"{who} closing onto the bus")
        elif site.steer and outside and bus_v is not None:
            direction, nearest = steer(outside, bus_v)
            assert nearest is not None
            gap = gap_text(nearest, bus_v, site.join_voltage_v)
            self.steering = (direction, f"{nearest.name} {gap}")
        else:
            self.steering = (Steer.BOTH, "")
        self._note_roles(roles, reasons, len(connected), now_s)
        return self._requests(wanted, now_s)

    def _circulating_beyond(self, roles: dict[str, tuple[str, str]], now_s: float) -> list[str]:
        """The connected packs that take more than their own limit with no site current
        left in that direction to take back (what circulates between packs at different
        voltages, near empty or full), at two decisions in a row: each is asked to leave,
        and may join again after ``site.join_timeout_s``."""
        leaving = []
        tolerance = 1.0 + self.site.margin_pct / PCT
        for name, (role, _) in roles.items():
            view = self.views[name]
            if role != "connected":
                self._beyond.discard(name)
                continue
            current_a = view.current_a
            charge_a, discharge_a = self.limits_a
            beyond = (current_a > view.charge_limit_a * tolerance + 1.0 and charge_a == 0) or \
                (-current_a > view.discharge_limit_a * tolerance + 1.0 and discharge_a == 0)
            if not beyond:
                self._beyond.discard(name)
            elif name not in self._beyond:
                self._beyond.add(name)
            else:
                self._beyond.discard(name)
                leaving.append(name)
                self.memory.failed_join_until_s[name] = now_s + self.site.join_timeout_s
                limit_a = view.charge_limit_a if current_a > 0 else view.discharge_limit_a
                self.note(f"{name} asked to leave: {abs(current_a):.0f} A between the packs "
                          f"beyond its own {limit_a:.0f} A, with no site current to take "
                          f"back", now_s)
        return leaving

    def _all_settled(self, roles: dict[str, tuple[str, str]], now_s: float) -> bool:
        """Every pack ready (or in a fault), or the start long enough ago: the first pack
        is chosen among all of them, but one that is away keeps no other off the bus."""
        return all(role in ("ready", "fault") for role, _ in roles.values()) or \
            now_s - self.started_s > self.site.join_timeout_s

    def _note_roles(self, roles: dict[str, tuple[str, str]], reasons: dict[str, str],
                    connected: int, now_s: float) -> None:
        memory = self.memory
        for name, (role, reason) in roles.items():
            before = memory.roles.get(name)
            if role == "ready":
                role = "waiting"
            if before == role:
                continue
            memory.roles[name] = role
            if role == "connected":
                self.note(f"{name} joined: {connected} of {len(roles)} packs connected", now_s)
            elif before in ("connected", "silent") and role == "fault":
                self.note(f"{name} faulted ({reason}) and opened: the site runs on "
                          f"{connected} of {len(roles)} packs", now_s)
            elif role == "silent":
                self.note(f"{name} {reason}: 0 A both ways until it is heard", now_s)
            elif before == "connected":
                self.note(f"{name} left the bus ({reasons.get(name) or reason or role})", now_s)
        self._reasons = {name: reasons.get(name) or reason for name, (_, reason) in roles.items()}

    def _requests(self, wanted: dict[str, str], now_s: float) -> list[tuple[str, bytes]]:
        memory, commands = self.memory, []
        for name, request in wanted.items():
            held = memory.requests.get(name)
            if held is not None and held.request == request:
                if now_s - held.sent_s < self.site.retry_s or self._follows(name, request):
                    continue
                held.sent_s = now_s  # not followed yet: again
            else:
                held = memory.requests[name] = _Request(request, now_s, now_s)
            memory.commands_sent += 1
            commands.append((name, pack_bytes({
                "command": "state", "request": request,
                "id": f"{self.site.name}-{memory.commands_sent}",
                # held by a broker through an outage, it must not act after the site's
                # next decision: the pack refuses it once expired
                "expires_t": now_s + self.site.retry_s})))
        return commands

    def _follows(self, name: str, request: str) -> bool:
        view = self.views[name]
        if request == "drive":
            return view.connected or view.state == "PRECHARGE"
        return not view.main_closed

    def _idle_voltage_v(self, connected: list[PackView]) -> float | None:
        """The bus at zero site current: where a joining pack closes (the site holds the
        current at zero meanwhile)."""
        if not connected:
            return None
        return allocate([self._branch(v) for v in connected]).idle_v

    def _branch(self, view: PackView) -> Branch:
        tracker = self.resistances[view.name]
        # until the site has seen how the pack shares a current, more margin on its limits
        keep = 1.0 if tracker.steps >= LEARNT_STEPS else 1.0 - UNLEARNT_MARGIN
        # a falling limit as it may be when the site's answer reaches the inverter (the
        # pack's next state is up to a period away, then the inverter's own period): on at
        # the rate it fell, but to no less than half of it (it may have been a step)
        ahead_s = self.settings.mqtt.state_period_s + self.site.period_s
        charge_a = max(view.charge_limit_a * FALL_FLOOR,
                       view.charge_limit_a - view.charge_fall_a_per_s * ahead_s)
        discharge_a = max(view.discharge_limit_a * FALL_FLOOR,
                          view.discharge_limit_a - view.discharge_fall_a_per_s * ahead_s)
        return Branch(view.name, view.voltage_v, view.current_a,
                      tracker.resistance_ohm or view.resistance_ohm
                      or self.nominal_resistance_ohm, charge_a * keep, discharge_a * keep)

    @staticmethod
    def _bus_voltage_v(connected: list[PackView]) -> float | None:
        voltages = [v.voltage_v for v in connected if math.isfinite(v.voltage_v)]
        return sum(voltages) / len(voltages) if voltages else None

    # --- limits -------------------------------------------------------------------------

    def _connected(self, now_s: float) -> tuple[list[PackView], list[PackView]]:
        """(connected and heard, connected as last heard but silent)."""
        heard = [v for v in self.views.values() if v.connected and self._fresh(v, now_s)]
        silent = [v for v in self.views.values() if v.connected and not self._fresh(v, now_s)]
        return heard, silent

    def _limit(self, now_s: float) -> None:
        heard, silent = self._connected(now_s)
        warnings = [f"site_pack_silent: {v.name} not heard for {v.age_s(now_s):.1f} s"
                    for v in silent]
        limits_stale = [v.name for v in heard if v.limits_t is None
                        or now_s - v.limits_t > self.site.pack_timeout_s]
        warnings += [f"site_pack_limits_missing: {name}" for name in limits_stale]
        self.allocation = allocate([self._branch(v) for v in heard],
                                   self.site.margin_pct / PCT) if heard else NOTHING
        charge_a, discharge_a = self._feedback(heard, self.allocation.charge_a,
                                               self.allocation.discharge_a)
        charge_a, discharge_a = self._ramp(heard, charge_a, discharge_a, now_s)
        direction = self.steering[0]
        if direction in (Steer.CHARGE, Steer.HOLD):
            discharge_a = 0.0
        if direction in (Steer.DISCHARGE, Steer.HOLD):
            charge_a = 0.0
        if warnings:
            charge_a = discharge_a = 0.0
        self.limits_a = (charge_a, discharge_a)
        self.warnings = tuple(warnings)
        self.heard_connected = heard

    def _feedback(self, heard: list[PackView], charge_a: float,
                  discharge_a: float) -> tuple[float, float]:
        """The model's limits, less what a pack's measured current says they miss: a pack
        above its own limit (less the margin) scales the site's limit in that direction
        by how far, once per state of that pack."""
        keep = 1.0 - self.site.margin_pct / PCT
        for view in heard:
            if view.state_t is None or self._feedback_t.get(view.name) == view.state_t:
                continue
            self._feedback_t[view.name] = view.state_t
            current_a = view.current_a
            if current_a > 0 and current_a > view.charge_limit_a * keep:
                charge_a = min(charge_a, self.limits_a[0] * view.charge_limit_a * keep
                               / current_a)
            elif current_a < 0 and -current_a > view.discharge_limit_a * keep:
                discharge_a = min(discharge_a, self.limits_a[1] * view.discharge_limit_a
                                  * keep / -current_a)
        return charge_a, discharge_a

    def _ramp(self, heard: list[PackView], charge_a: float, discharge_a: float,
              now_s: float) -> tuple[float, float]:
        """Limits fall at once and rise at most ``site.ramp_pct_per_s`` of the connected
        packs' own limits a second: the packs' shares settle (their RC pairs) before more
        is allowed, and the inverter is not made to swing."""
        dt_s = max(0.0, now_s - self._limited_at_s)
        self._limited_at_s = now_s
        rate = self.site.ramp_pct_per_s / PCT * dt_s
        charge_step = rate * sum(v.charge_limit_a for v in heard)
        discharge_step = rate * sum(v.discharge_limit_a for v in heard)
        return (min(charge_a, self.limits_a[0] + charge_step),
                min(discharge_a, self.limits_a[1] + discharge_step))

    # --- the report ---------------------------------------------------------------------

    def _report(self, now_s: float) -> SiteReport:
        heard, reasons = self.heard_connected, self._reasons
        shares = {s.name: s.share for s in self.allocation.shares}
        statuses = []
        for name, view in self.views.items():
            role, reason = self._role(view, now_s)
            if role == "ready":
                role = "waiting"
            statuses.append(PackStatus(name, role, reasons.get(name) or reason, view,
                                       shares.get(name)))
        weights = [(v.capacity_ah or self.description.capacity_ah) for v in heard]
        nominal = [w / ((v.soh_pct or PCT) / PCT) for w, v in zip(weights, heard, strict=True)]
        soe = [v.soe_kwh for v in heard if v.soe_kwh is not None]
        maxima = [v.voltage_max_v for v in heard if v.voltage_max_v is not None]
        minima = [v.voltage_min_v for v in heard if v.voltage_min_v is not None]
        online = [v for v in self.views.values() if self._fresh(v, now_s)]
        return SiteReport(
            time_s=now_s, packs=tuple(statuses), online=len(online), connected=len(heard),
            charge_a=self.limits_a[0], discharge_a=self.limits_a[1],
            charge_limiter=self.allocation.charge_limiter,
            discharge_limiter=self.allocation.discharge_limiter,
            steering=self.steering[0].value, steering_reason=self.steering[1],
            voltage_v=self._bus_voltage_v(heard),
            current_a=sum(v.current_a for v in heard),
            soc_pct=_weighted([(v.soc_pct, w) for v, w in zip(heard, weights, strict=True)]),
            soe_kwh=sum(soe) if soe else None,
            soh_pct=_weighted([(v.soh_pct, w) for v, w in zip(heard, nominal, strict=True)]),
            capacity_ah=sum(weights),
            voltage_max_v=min(maxima) if maxima else None,
            voltage_min_v=max(minima) if minima else None,
            cell_voltage_mv=_site_extremes([v.cell_voltage_mv for v in online]),
            temperature_degc=_site_extremes([v.temperature_degc for v in online]),
            warnings=self.warnings, notes=tuple(self.memory.notes))

    def stop_commands(self) -> list[tuple[str, bytes]]:
        """Every pack asked to leave: what the site sends when it stops (the safe state is
        every pack open; the inverter, without the site's frames, stops on its own). No
        expiry: leaving is safe whenever it arrives."""
        self.memory.commands_sent += 1
        return [(name, pack_bytes({"command": "state", "request": "standby",
                                   "id": f"{self.site.name}-stop"})) for name in self.views]
