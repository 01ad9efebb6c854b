"""The virtual site on virtual time (sim/site_lockstep.py): three packs of the site profile
(deploy/packs/site-pack.toml) on one DC bus (sim/dc_bus.py, the circuit's own physics, not
the site's model of it), the site controller's core and a BYD HVS inverter. The packs'
currents here are the bus's, so the site's limits are checked against what really flows."""

from __future__ import annotations

from collections.abc import Sequence

from bms.settings import Settings, load_settings
from dbc.sim_frames import CellQuantity, InjectCell
from master.telemetry.payloads import unpack
from sim.site_configs import PACK_PROFILE, SITE_PROFILE
from sim.site_lockstep import LockstepSite
from sitectl.core import SiteOutputs

NAMES = ("pack-1", "pack-2", "pack-3")
SOCS_PCT = (50.0, 60.0, 40.0)  # 209.0 V and 209.2 V on the plateau, 208.1 V at the knee
# a day's speed: every period and timeout of the packs x 10 (the physics unchanged)
COARSE = ("pack.time_scale=10",)


def site_of(socs_pct: Sequence[float] = SOCS_PCT,
            ages: Sequence[tuple[float, float]] = ((1.0, 1.0),) * 3,
            profile: str = "", extra: Sequence[str] = ()) -> LockstepSite:
    packs: list[Settings] = [load_settings(PACK_PROFILE, [
        f'pack.name="{name}"', f"sim.cells.initial_soc_pct={soc}", f"sim.cells.seed={i + 1}",
        f"sim.cells.capacity_factor={capacity}", f"sim.cells.resistance_factor={resistance}",
        "mqtt.enabled=false", *COARSE])
        for i, (name, soc, (capacity, resistance))
        in enumerate(zip(NAMES, socs_pct, ages, strict=True))]
    site = load_settings(SITE_PROFILE, [
        "site.packs=[" + ",".join(f'"{n}"' for n in NAMES) + "]",
        *([f"sim.inverter.profile={profile}"] if profile else []), *extra])
    return LockstepSite(site, packs)


class Joins:
    """Each join request with the site's view when it was made, and each close."""

    def __init__(self, site: LockstepSite) -> None:
        self.site = site
        self.requests: list[tuple[str, float, float, float]] = []  # pack, t, its V, idle bus V
        self.order: list[str] = []
        site.on_outputs = self.on_outputs

    def on_outputs(self, outputs: SiteOutputs) -> None:
        core = self.site.site
        for name, payload in outputs.commands:
            if unpack(payload)["request"] == "drive":
                connected = [v for v in core.views.values() if v.connected]
                idle_v = core._idle_voltage_v(connected)
                self.requests.append((name, self.site.now_s, core.views[name].voltage_v,
                                      idle_v if idle_v is not None else float("nan")))
        assert outputs.report is not None
        for status in outputs.report.packs:
            if status.role == "connected" and status.name not in self.order:
                self.order.append(status.name)


def test_packs_join_in_order_only_inside_the_window_and_with_no_inrush() -> None:
    site = site_of()
    joins = Joins(site)
    inrush_a: dict[str, float] = {}

    def all_joined() -> bool:
        # the largest current in a pack's first 5 s on the bus while the inverter moves
        # nothing (the site holds it at 0 A while a pack closes): what the join drives
        for name, pack in site.packs.items():
            closed = pack.box.contactors.main_plus
            if closed and site.watch.connected_s.get(name, 0) < 5 and \
                    site.inverter.current_a == 0.0:
                inrush_a[name] = max(inrush_a.get(name, 0.0), abs(pack.box.current_a))
        report = site.site.report
        return report is not None and report.connected == 3

    site.run_until(all_joined, 600.0)
    site.run(site.settings.site.period_s)  # the next report names it
    # the two on the plateau first (the most joinable; of equals the lower), then the low
    # one, after the site steered the bus down to it
    assert joins.order == ["pack-1", "pack-2", "pack-3"]
    window_v = site.settings.site.join_voltage_v
    for name, _, voltage_v, idle_v in joins.requests[1:]:  # the first closes a dead bus
        assert abs(voltage_v - idle_v) <= window_v, name
    assert [r[0] for r in joins.requests] == joins.order
    steered = [o.report.steering for o in site.outputs if o.report is not None]
    assert "discharge" in steered  # pack-3 waited below the bus
    # what two packs 0.8 V apart drive through their 59 mOhm, and some margin for the RC
    assert max(inrush_a.values()) < 1.5 * window_v / 0.0589
    assert not site.watch.exceeded, site.watch.worst


def test_a_pack_outside_the_window_waits_and_is_named() -> None:
    site = site_of(socs_pct=(50.0, 60.0, 30.0), extra=("site.steer=false",))
    site.run(120.0)
    report = site.site.report
    assert report is not None
    assert report.connected == 2
    waiting = report.pack("pack-3")
    assert waiting.role == "waiting"
    assert "below the bus" in waiting.reason
    assert not site.packs["pack-3"].box.contactors.main_plus


def test_a_pack_fault_opens_that_pack_only_and_the_limits_shrink_within_a_period() -> None:
    site = site_of(socs_pct=(50.0, 55.0, 60.0))
    site.run_until(lambda: site.site.report is not None and site.site.report.connected == 3,
                   600.0)
    site.run(20.0)
    before = site.site.report
    assert before is not None
    assert before.charge_a > 0
    site.packs["pack-2"].inject(InjectCell(1, 3, CellQuantity.VOLTAGE, 3900.0))  # > OV MSL

    def opened() -> bool:
        return not site.packs["pack-2"].box.contactors.main_plus

    site.run_until(opened, 60.0)
    opened_s = site.now_s
    period_s = site.settings.site.period_s
    site.run(period_s + 2 * site.latency_s + site.packs["pack-1"].settings.mqtt.state_period_s)
    after = site.site.report
    assert after is not None
    assert after.connected == 2
    assert after.pack("pack-2").role == "fault"
    assert 0 < after.charge_a < before.charge_a * 0.8  # two packs' worth, not three
    assert any("pack-2 faulted" in text for _, text in after.notes)
    assert site.packs["pack-1"].box.contactors.main_plus  # the others run on
    assert site.packs["pack-3"].box.contactors.main_plus
    # its charge limit fell to 0 (the 3.9 V cell) before its master opened it: the site
    # cannot know before the pack publishes, then tells the inverter at once; the pack
    # carried its share no longer than that takes
    reaction_s = site.packs["pack-2"].settings.mqtt.state_period_s + site.latency_s + \
        0.05 + site.inverter.settings.output_period_s + 0.1
    assert opened_s > 0
    assert set(site.watch.longest_over_s) <= {"pack-2"}
    assert site.watch.longest_over_s.get("pack-2", 0.0) <= reaction_s, site.watch.worst


def test_a_bridge_outage_stops_the_inverter_and_the_site_recovers() -> None:
    site = site_of(socs_pct=(50.0, 55.0, 60.0))
    site.run_until(lambda: site.site.report is not None and site.site.report.connected == 3,
                   600.0)
    site.run(30.0)
    site.cut = set(NAMES)
    cut_s = site.now_s
    timeout_s = site.settings.site.pack_timeout_s
    site.run_until(lambda: site.inverter.current_a == 0.0 and site.site.limits_a == (0, 0),
                   timeout_s + 5.0)
    report = site.site.report
    assert report is not None
    assert all("site_pack_silent" in w for w in report.warnings)
    assert site.now_s - cut_s >= timeout_s - 1.0
    held = {name: len(site._held[name]) for name in NAMES}
    site.cut = set()
    site.run_until(lambda: site.site.limits_a[0] > 0 and site.site.limits_a[1] > 0, 30.0)
    assert all(count > 0 for count in held.values())  # the states published meanwhile
    assert not any(site._held.values())  # ...all delivered
    assert not site.watch.exceeded, site.watch.worst


def reaction_s(site: LockstepSite) -> float:
    """How late the inverter can hear of a pack's falling limit: the pack's next state,
    the brokers, the site's tick, the inverter's own output period, a step."""
    pack = next(iter(site.packs.values()))
    return pack.settings.mqtt.state_period_s + site.latency_s + 0.05 + \
        site.inverter.settings.output_period_s + pack.step_s


AGES = ((1.0, 1.0), (0.9, 1.3), (0.8, 1.6))  # (capacity, resistance) factors, not told


def test_aged_packs_charged_to_the_top_never_exceed_their_own_limits() -> None:
    # the inverter wanting 5 C of one pack, more than the site allows: the site's limit
    # binds, the aged pack takes less and fills first, the packs' charge limits fall at the
    # top; the bus, not the site's model, divides the current
    site = site_of(socs_pct=(80.0, 82.0, 78.0), ages=AGES,
                   profile="[{duration_s=3600.0, current_c=5.0}]")
    site.run(1500.0)
    report = site.site.report
    assert report is not None
    assert report.connected == 3
    assert min(site.watch.connected_s.values()) > 1000
    assert max(site.watch.max_share_of_limit.values()) > 0.8  # the limits did bind
    assert not site.watch.exceeded, (site.watch.worst, site.watch.steps_over)


def test_aged_packs_discharged_to_empty_exceed_their_limits_only_for_the_reaction_time() -> None:
    # 20 C wanted from 60 %: at the packs' current limits, then to empty, where their own
    # discharge limits swing within a second under the load (the cell-voltage limiter):
    # there the site can only follow, one reaction time late
    site = site_of(socs_pct=(60.0, 62.0, 58.0), ages=AGES,
                   profile="[{duration_s=3600.0, current_c=-20.0}]")
    site.run(240.0)  # above 20 % SOC: within every limit
    assert max(site.watch.max_share_of_limit.values()) > 0.8
    assert not site.watch.exceeded, (site.watch.worst, site.watch.steps_over)
    site.run(360.0)  # to empty
    assert max(site.watch.longest_over_s.values(), default=0.0) <= reaction_s(site), \
        (site.watch.longest_over_s, site.watch.worst)
