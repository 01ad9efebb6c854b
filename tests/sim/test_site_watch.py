"""The launcher's watch of the virtual site: joins in the order the packs report themselves
connected, and every limits frame the site sends held to the connected packs' own limits."""

from __future__ import annotations

from typing import Any

from dbc.codec import inverter_codec
from dbc.endpoint import FrameSender
from dbc.inverter_byd_hvs_frames import BydLimits
from master.telemetry.payloads import pack_bytes
from sim.site_watch import LAG_S, SiteWatch

PACKS = ("pack-1", "pack-2", "pack-3")
START_S = 1000.0


def watch() -> SiteWatch:
    return SiteWatch(PACKS, "bms", "site", "virtual-site", "byd_hvs", START_S)


def state(t: float, connected: bool, voltage_v: float = 209.0) -> bytes:
    return pack_bytes({"t": t, "state": "NORMAL" if connected else "STANDBY",
                       "voltage_v": voltage_v, "current_a": 0.0, "soc_pct": 50.0,
                       "contactors": {"main_plus": connected, "main_minus": connected}})


def limits(t: float, charge_a: float, discharge_a: float) -> bytes:
    return pack_bytes({"t": t, "charge_a": charge_a, "discharge_a": discharge_a})


def site_report(t: float, **values: Any) -> bytes:
    return pack_bytes({"t": t, **values})


def frame(charge_a: float, discharge_a: float) -> Any:
    return FrameSender(inverter_codec("byd_hvs")).encode(
        BydLimits(227.2, 179.2, charge_a, discharge_a))


def connect(w: SiteWatch, pack: str, t: float, charge_a: float = 100.0,
            discharge_a: float = 200.0) -> None:
    w.on_message(f"bms/{pack}/limits", limits(t, charge_a, discharge_a), t)
    w.on_message(f"bms/{pack}/state", state(t, True), t)


def test_joins_are_recorded_once_in_order_with_the_bus_before() -> None:
    w = watch()
    w.on_message("site/virtual-site/state", site_report(START_S, voltage_v=209.1), START_S)
    connect(w, "pack-2", START_S + 5)
    connect(w, "pack-1", START_S + 7)
    w.on_message("bms/pack-2/state", state(START_S + 8, True), START_S + 8)  # again: no join
    assert [(j.pack, j.t_s, j.bus_v) for j in w.joins] == [
        ("pack-2", 5.0, 209.1), ("pack-1", 7.0, 209.1)]
    assert w.connected() == ["pack-1", "pack-2"]
    # an older message (an outbox resend) changes nothing
    w.on_message("bms/pack-1/state", state(START_S + 6, False), START_S + 9)
    assert w.connected() == ["pack-1", "pack-2"]


def test_limits_within_the_connected_packs_pass_and_beyond_them_are_counted() -> None:
    w = watch()
    connect(w, "pack-1", START_S)
    connect(w, "pack-2", START_S)
    w.on_inverter_frame(frame(190.0, 380.0), START_S + 5)  # 2 x 100, 2 x 200 allowed
    assert (w.check.frames, w.check.violations) == (1, 0)
    w.on_inverter_frame(frame(250.0, 380.0), START_S + 6)
    assert w.check.violations == 1
    assert "the site sent 250.0 A charge" in w.check.first_violation
    assert w.check.worst_excess_a == 50.0
    assert w.last_limits_a == (250.0, 380.0)


def test_a_pack_leaving_lowers_what_is_allowed_after_the_lag() -> None:
    w = watch()
    connect(w, "pack-1", START_S)
    connect(w, "pack-2", START_S)
    left_s = START_S + 10
    w.on_message("bms/pack-2/state", state(left_s, False), left_s)
    # the site hears it a tick after the watch: its old limits for a moment are no excess
    w.on_inverter_frame(frame(190.0, 380.0), left_s + 0.05)
    assert w.check.violations == 0
    w.on_inverter_frame(frame(190.0, 380.0), left_s + LAG_S + 0.1)
    assert w.check.violations == 1
    w.on_inverter_frame(frame(95.0, 190.0), left_s + LAG_S + 0.2)
    assert w.check.violations == 1


def test_nothing_connected_allows_nothing() -> None:
    w = watch()
    w.on_inverter_frame(frame(0.0, 0.0), START_S)
    w.on_inverter_frame(frame(1.0, 0.0), START_S + 1)
    assert (w.check.frames, w.check.violations) == (2, 1)


def test_the_site_report_gives_each_packs_role() -> None:
    w = watch()
    assert w.site_roles() == dict.fromkeys(PACKS, "unknown")
    w.on_message("site/virtual-site/state", site_report(
        START_S, packs=[{"name": "pack-3", "role": "waiting", "reason": "waits: ..."}]),
        START_S + 1)
    assert w.site_roles()["pack-3"] == "waiting"
    assert w.report_age_s(START_S + 3) == 2.0
