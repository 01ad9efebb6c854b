"""The virtual site's live view and progress line show what the watch knows: the site's
count, limits and steering with its reason, and each pack's state, role and numbers."""

from __future__ import annotations

from rich.console import Console

from master.telemetry.payloads import pack_bytes
from sim.site_view import progress_line, render
from sim.site_watch import SiteWatch

START_S = 100.0
REASON = "pack-3 waits: 208.1 V is 1.04 V below the bus (209.2 V; window 0.8 V)"


def watch() -> SiteWatch:
    w = SiteWatch(("pack-1", "pack-2", "pack-3"), "bms", "site", "s", "byd_hvs", START_S)
    w.on_message("site/s/state", pack_bytes({
        "t": START_S, "packs_online": 3, "packs_connected": 2, "charge_a": 0.0,
        "discharge_a": 1130.7, "charge_limiter": "pack-1", "discharge_limiter": "pack-2",
        "steering": "discharge", "steering_reason": REASON, "voltage_v": 209.2,
        "current_a": -0.2, "soc_pct": 55.0, "warnings": [],
        "packs": [{"name": "pack-1", "role": "connected", "reason": "", "share": 0.49},
                  {"name": "pack-2", "role": "connected", "reason": "", "share": 0.51},
                  {"name": "pack-3", "role": "waiting", "reason": REASON}],
        "notes": [[START_S, "pack-2 joined: 2 of 3 packs connected"]]}), START_S + 1)
    w.on_message("bms/pack-3/state", pack_bytes({
        "t": START_S, "state": "STANDBY", "voltage_v": 208.12, "current_a": 0.0,
        "soc_pct": 40.1, "contactors": {"main_plus": False, "main_minus": False}}), START_S + 1)
    w.on_message("bms/pack-3/limits", pack_bytes({"t": START_S, "charge_a": 200.0,
                                                  "discharge_a": 600.0}), START_S + 1)
    return w


def test_the_view_shows_the_site_and_every_pack() -> None:
    console = Console(record=True, width=200)
    console.print(render(watch(), START_S + 20, "virtual site"))
    text = console.export_text()
    for expected in ("t = 20 s", "connected 2/3 (3 online)", "bus 209.2 V",
                     "discharge 1130.7 A (pack-2)", "steering discharge: pack-3 waits",
                     "pack-2 joined: 2 of 3 packs connected", f"pack-3: {REASON}"):
        assert expected in text
    (row,) = [line for line in text.splitlines() if line.lstrip().startswith("pack-3 ")]
    assert row.split()[:8] == ["pack-3", "STANDBY", "waiting", "208.1", "+0.0", "40.1",
                               "200.0", "600.0"]


def test_the_progress_line_names_each_packs_role_and_the_steering() -> None:
    line = progress_line(watch(), START_S + 25)
    assert line.startswith("t=   25s  connected 2/3 [pack-1 connected, pack-2 connected, "
                           "pack-3 waiting]  bus 209.2 V  -0.2 A")
    assert line.endswith(f"steering discharge ({REASON})")
