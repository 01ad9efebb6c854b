"""The site controller's core on messages written here as the packs' masters publish them:
who joins, in which order, what the inverter is told, and what happens when a pack faults
or falls silent. Consistency with master/telemetry/payloads.py is checked by building the
messages through `state_message`, whose keys the payload test holds."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bms.settings import Settings, load_settings
from dbc.inverter_byd_hvs_frames import BydInverterIdentity, BydLimits
from master.telemetry.payloads import unpack
from sitectl.core import UNLEARNT_MARGIN, SiteCore

PACKS = ("a", "b", "c")
# the packs here never change their current: the site never learns how they share one, and
# keeps its extra margin on their limits beside site.margin_pct
KEEP = 0.95 * (1 - UNLEARNT_MARGIN)


def site_settings(packs: tuple[str, ...] = PACKS, *extra: str) -> Settings:
    return load_settings(None, [
        "pack.modules=4", "pack.cells_per_module=16", "pack.chemistry=\"LFP\"",
        "pack.cell_capacity_ah=100.0", "endpoints.vcu=false", "endpoints.inverter=\"byd_hvs\"",
        f"site.packs={list(packs)!r}".replace("'", '"'), *extra])


def state_message(t: float, voltage_v: float, state: str = "STANDBY", current_a: float = 0.0,
                  faults: tuple[str, ...] = (), soc_pct: float = 50.0) -> dict[str, Any]:
    closed = state in ("NORMAL", "CHARGE")
    return {"v": 1, "t": t, "state": state, "voltage_v": voltage_v, "current_a": current_a,
            "contactors": {"main_plus": closed, "main_minus": closed or state == "PRECHARGE",
                           "precharge": state == "PRECHARGE"},
            "soc_pct": soc_pct, "soe_kwh": 10.0, "soh_pct": 100.0, "capacity_ah": 100.0,
            "resistance_mohm": 30.0, "faults": list(faults), "warnings": []}


def limits_message(t: float, charge_a: float = 50.0, discharge_a: float = 80.0) -> dict[str, Any]:
    return {"v": 1, "t": t, "charge_a": charge_a, "discharge_a": discharge_a,
            "voltage_max_v": 227.2, "voltage_min_v": 179.2}


class Site:
    """The core and three packs that follow its requests as their masters would."""

    def __init__(self, voltages: dict[str, float], *extra: str) -> None:
        self.now_s = 1000.0
        self.core = SiteCore(site_settings(tuple(voltages), *extra), self.now_s)
        self.voltages = dict(voltages)
        self.states = dict.fromkeys(voltages, "STANDBY")
        self.requests: dict[str, list[str]] = {name: [] for name in voltages}
        self.order: list[str] = []
        self.faults: dict[str, tuple[str, ...]] = {}
        self.silent: set[str] = set()
        self.limits = {name: (50.0, 80.0) for name in voltages}
        self.currents = dict.fromkeys(voltages, 0.0)

    def publish(self) -> None:
        for name, voltage_v in self.voltages.items():
            if name in self.silent:
                continue
            self.core.on_message(name, "state", state_message(
                self.now_s, voltage_v, self.states[name], self.currents[name],
                faults=self.faults.get(name, ())), self.now_s)
            self.core.on_message(name, "limits", limits_message(self.now_s, *self.limits[name]),
                                 self.now_s)

    def step(self) -> list[Any]:
        self.now_s += 1.0
        self.publish()
        out = self.core.tick(self.now_s)
        for name, payload in out.commands:
            request = unpack(payload)["request"]
            self.requests[name].append(request)
            if request == "drive" and self.states[name] == "STANDBY" and name not in self.faults:
                self.states[name] = "NORMAL"  # precharged within the period
                self.order.append(name)
            elif request == "standby" and self.states[name] == "NORMAL":
                self.states[name] = "STANDBY"
        return out.inverter

    def connect_bus(self) -> None:
        """The connected packs at one voltage: the bus's."""
        connected = [n for n, s in self.states.items() if s == "NORMAL"]
        if connected:
            bus_v = sum(self.voltages[n] for n in connected) / len(connected)
            for name in connected:
                self.voltages[name] = bus_v


def test_packs_join_in_order_and_only_inside_the_window() -> None:
    site = Site({"a": 205.0, "b": 209.0, "c": 209.4})
    for _ in range(4):
        site.step()
        site.connect_bus()
    assert site.order == ["b", "c"]  # b first: the pack the most others could join
    report = site.core.report
    assert report is not None
    assert report.connected == 2
    waiting = report.pack("a")
    assert waiting.role == "waiting"
    assert "4.20 V below the bus" in waiting.reason
    assert "window 0.8 V" in waiting.reason
    # steering: only discharge, which brings the bus down toward a
    assert report.steering == "discharge"
    assert report.charge_a == 0.0
    assert report.discharge_a > 0
    assert "a waits" in report.steering_reason
    site.voltages.update(b=205.4, c=205.4)  # the bus came down
    site.step()
    assert site.order == ["b", "c", "a"]


def test_a_pack_outside_the_window_never_joins() -> None:
    site = Site({"a": 205.0, "b": 209.0}, "site.join_voltage_v=3.9")
    for _ in range(10):
        site.step()
        site.connect_bus()
    assert site.order == ["a"]  # equally joinable: the lowest first; b is 4 V away
    assert site.requests["b"] == ["standby"]


def test_a_fault_opens_that_pack_only_and_the_limits_shrink_at_once() -> None:
    site = Site({"a": 209.0, "b": 209.0, "c": 209.0})
    for _ in range(15):  # joined, and the limits risen at 10 % of the packs' a second
        site.step()
    report = site.core.report
    assert report is not None
    assert report.connected == 3
    assert report.charge_a == pytest.approx(3 * 50.0 * KEEP)
    site.faults["b"] = ("cell_overvoltage_msl",)
    site.states["b"] = "ERROR"  # its own master opened it
    site.step()
    report = site.core.report
    assert report is not None
    assert report.connected == 2
    assert report.charge_a == pytest.approx(2 * 50.0 * KEEP)
    assert report.pack("b").role == "fault"
    assert site.requests["b"][-1] == "standby"  # so it does not close again after a reset
    assert any("b faulted" in text and "2 of 3" in text for _, text in report.notes)


def test_a_silent_connected_pack_stops_the_inverter_until_heard() -> None:
    site = Site({"a": 209.0, "b": 209.0}, "site.pack_timeout_s=3.0")
    for _ in range(4):
        site.step()
    site.silent.add("a")
    for _ in range(3):
        site.step()
    report = site.core.report
    assert report is not None
    assert report.pack("a").role == "connected"
    site.step()
    report = site.core.report
    assert report is not None
    assert report.pack("a").role == "silent"
    assert (report.charge_a, report.discharge_a) == (0.0, 0.0)
    assert any(w.startswith("site_pack_silent: a") for w in report.warnings)
    site.silent.clear()
    site.step()
    report = site.core.report
    assert report is not None
    assert report.charge_a > 0
    assert not report.warnings


def test_with_every_pack_silent_the_inverter_is_still_told_0_a() -> None:
    site = Site({"a": 209.0, "b": 209.0}, "site.pack_timeout_s=3.0")
    site.core.on_inverter_frame(BydInverterIdentity(identity_request=True), site.now_s)
    for _ in range(4):
        site.step()
    site.silent.update({"a", "b"})
    frames = [f for _ in range(6) for f in site.step() if isinstance(f, BydLimits)]
    assert frames
    assert (frames[-1].charge_current_a, frames[-1].discharge_current_a) == (0, 0)


def test_falling_limits_reach_the_inverter_at_once() -> None:
    site = Site({"a": 209.0, "b": 209.0})
    site.core.on_inverter_frame(BydInverterIdentity(identity_request=True), site.now_s)
    for _ in range(15):
        site.step()
    site.limits["a"] = (5.0, 80.0)
    site.now_s += 0.05  # not a period: the limits arrive between two
    site.publish()
    frames = site.core.tick(site.now_s).inverter
    limits = [f for f in frames if isinstance(f, BydLimits)]
    assert len(limits) == 1
    # a takes half of each ampere (equal packs): the site may charge 2 x 5 A less the
    # margins, less still while a's limit is seen falling (as it may go on falling)
    assert limits[0].charge_current_a <= 2 * 5.0 * KEEP + 0.1
    for _ in range(3):
        site.step()
    report = site.core.report
    assert report is not None
    assert report.charge_a == pytest.approx(2 * 5.0 * KEEP, abs=0.1)


def test_the_limits_rise_at_the_ramp_and_fall_at_once() -> None:
    site = Site({"a": 209.0, "b": 209.0}, "site.ramp_pct_per_s=20")
    charge = []
    for _ in range(12):
        site.step()
        report = site.core.report
        charge.append(report.charge_a if report else 0.0)
    rises = [b - a for a, b in itertools.pairwise(charge) if b > a]
    assert rises
    assert max(rises) <= 0.2 * 100.0 + 1e-6
    assert charge[-1] == pytest.approx(2 * 50.0 * KEEP)
    site.limits["a"] = (10.0, 80.0)
    site.step()
    report = site.core.report
    assert report is not None
    assert report.charge_a <= 2 * 10.0 * KEEP + 1e-6


def test_a_pack_measured_above_its_limit_scales_the_site_down() -> None:
    # the model thinks the packs share equally; the bus says a takes more
    site = Site({"a": 209.0, "b": 209.0})
    for _ in range(15):
        site.step()
    core = site.core
    before = core.limits_a[0]
    site.now_s += 1.0
    core.on_message("a", "state", state_message(site.now_s, 209.0, "NORMAL", current_a=60.0),
                    site.now_s)
    core.on_message("b", "state", state_message(site.now_s, 209.0, "NORMAL", current_a=35.0),
                    site.now_s)
    core.tick(site.now_s)
    assert core.limits_a[0] <= before * 50.0 * 0.95 / 60.0 + 1e-6


def test_a_pack_taking_beyond_its_limit_from_the_others_is_asked_to_leave() -> None:
    # at zero site current b drives 30 A into a, whose charge limit is 2 A: no site current
    # can take that back (the charge limit is 0 already); a leaves, and stays out
    site = Site({"a": 209.0, "b": 209.0})
    for _ in range(15):
        site.step()
    site.limits["a"] = (2.0, 80.0)
    site.currents.update(a=30.0, b=-30.0)
    for _ in range(3):  # the site's limit falls to 0; then twice beyond: it leaves
        site.step()
    assert site.requests["a"][-1] == "standby"
    assert site.requests["b"][-1] == "drive"  # b stays
    report = site.core.report
    assert report is not None
    assert any("a asked to leave: 30 A" in text for _, text in report.notes)
    site.states["a"] = "NORMAL"  # still closed while its master opens it
    for _ in range(3):
        site.step()
    assert "drive" not in site.requests["a"][site.requests["a"].index("standby"):]


def test_a_message_that_cannot_be_read_changes_nothing() -> None:
    site = Site({"a": 209.0})
    core = site.core
    assert not core.on_message("a", "state", {"t": "soon"}, site.now_s)
    assert not core.on_message("a", "state", {"t": 1.0, "voltage_v": float("nan")}, site.now_s)
    assert not core.on_message("zz", "state", state_message(1.0, 209.0), site.now_s)
    assert core.views["a"].bad_messages == 2
