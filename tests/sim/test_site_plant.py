"""Packs' HV boxes on one DC bus: the circuit's analytic solutions through real boxes, the
cells' Thevenin equivalent, and two whole lockstep packs sharing a bus."""

from __future__ import annotations

import math

import pytest

from bms.settings import Settings, load_settings
from dbc.codec import pack_codec
from dbc.endpoint import FrameSender
from dbc.frames import ContactorCommand, Contactors, MasterState
from dbc.sim_frames import ContactorId
from sim.dc_bus import BranchMode, BusStep, DcBus
from sim.hv_box import HvBox
from sim.lockstep import LockstepPack
from sim.module_plant import Thevenin
from sim.site_plant import ModulesInSeries, PacksOnBus, SitePlant, bus_of_boxes
from slave.afe.sim import SimAfe

STEP_S = 0.01
OPEN = Contactors()
PRECHARGING = Contactors(main_plus=False, main_minus=True, precharge=True)
CLOSED = Contactors(main_plus=True, main_minus=True, precharge=False)
# the defaults of [sim.hv_box]: every box brings 1000 uF and a 20 kohm bleed resistor
PRECHARGE_OHM = 50.0
LINK_F = 1e-3
BOX_BLEED_OHM = 20_000.0


class FixedCells:
    """A pack's cells that do not move: a Thevenin source of fixed E and R."""

    def __init__(self, source_v: float, resistance_ohm: float) -> None:
        self.cells = Thevenin(source_v, resistance_ohm)

    def thevenin(self, now_s: float) -> Thevenin:
        return self.cells


class Rig:
    """Boxes on a bus, each commanded as a master would (E2E-protected frames every step)."""

    def __init__(self, sources: list[FixedCells], settings: list[Settings] | None = None) -> None:
        self.boxes = [HvBox(s, 0.0) for s in settings or [load_settings()] * len(sources)]
        for box in self.boxes:
            box.join_shared_bus()
        self.plant = SitePlant(bus_of_boxes(self.boxes), list(zip(self.boxes, sources,
                                                                  strict=True)))
        self.senders = [FrameSender(pack_codec()) for _ in self.boxes]
        self.wanted = [OPEN for _ in self.boxes]
        self.now_s = 0.0

    def step(self, inverter_a: float = 0.0) -> BusStep:
        now_s = self.now_s
        for box, sender, wanted in zip(self.boxes, self.senders, self.wanted, strict=True):
            box.on_pack_frame(sender.encode(ContactorCommand(wanted)), now_s)
        result = self.plant.step(now_s, inverter_a)
        for box in self.boxes:
            box.tick(now_s)
        self.now_s = round(now_s + STEP_S, 9)
        return result

    def run(self, duration_s: float, inverter_a: float = 0.0) -> BusStep:
        result = self.step(inverter_a)
        for _ in range(round(duration_s / STEP_S) - 1):
            result = self.step(inverter_a)
        return result


def node_voltage_v(sources: list[tuple[float, float]], inverter_a: float = 0.0,
                   bleed_ohm: float = BOX_BLEED_OHM / 2) -> float:
    """The settled bus: Kirchhoff at the node, ``sources`` as (E, path resistance)."""
    return (inverter_a + sum(e / r for e, r in sources)) / \
        (1.0 / bleed_ohm + sum(1.0 / r for _, r in sources))


def test_two_closed_boxes_circulate_the_difference_of_their_packs() -> None:
    (e1_v, r1_ohm), (e2_v, r2_ohm) = pack1, pack2 = (400.0, 0.1), (398.0, 0.15)
    rig = Rig([FixedCells(*pack1), FixedCells(*pack2)])
    rig.wanted = [CLOSED, CLOSED]
    result = rig.run(1.0)
    bus_v = node_voltage_v([pack1, pack2])
    assert result.bus_voltage_v == pytest.approx(bus_v, abs=1e-9)
    circulating_a = (e1_v - e2_v) / (r1_ohm + r2_ohm)  # 8 A; the bleed takes 0.04 A of it
    for box, e_v, r_ohm, sign in ((rig.boxes[0], e1_v, r1_ohm, -1), (rig.boxes[1], e2_v,
                                                                      r2_ohm, 1)):
        assert box.branch_mode() is BranchMode.CLOSED
        assert box.current_a == pytest.approx((bus_v - e_v) / r_ohm, abs=1e-9)
        assert box.current_a == pytest.approx(sign * circulating_a, abs=0.04)
        assert box.sensor.current_a == box.current_a
        assert box.bus_voltage_v == box.sensor.bus_voltage_v == result.bus_voltage_v


def test_a_box_precharging_a_bare_link_follows_the_rc_charge() -> None:
    source_v, r_ohm = 400.0, 0.5
    rig = Rig([FixedCells(source_v, r_ohm), FixedCells(390.0, 0.5)])
    rig.wanted = [PRECHARGING, OPEN]
    while rig.step().bus_voltage_v == 0.0:  # the relays' pull-in
        assert rig.boxes[0].branch_mode() is BranchMode.OPEN
    # the step in which the relays closed counts from the step before (implicit Euler: the
    # end's state over the step), and the box reports its first precharge at its end
    start_s = rig.now_s - 2 * STEP_S
    path_ohm = r_ohm + PRECHARGE_OHM
    bleed_ohm = BOX_BLEED_OHM / 2
    tau_s = 2 * LINK_F * path_ohm * bleed_ohm / (path_ohm + bleed_ohm)  # 0.101 s
    settled_v = source_v * bleed_ohm / (path_ohm + bleed_ohm)
    h = STEP_S / tau_s
    bound_v = settled_v * h / (2.0 * math.e * (1.0 - h / 2.0))  # see test_dc_bus: 3.9 %
    for _ in range(round(5 * tau_s / STEP_S)):
        exact_v = settled_v * (1.0 - math.exp(-(rig.now_s - STEP_S - start_s) / tau_s))
        box = rig.boxes[0]
        assert 0.0 <= exact_v - box.bus_voltage_v <= bound_v
        assert box.current_a == pytest.approx((box.bus_voltage_v - source_v) / path_ohm)
        assert rig.boxes[1].current_a == 0.0
        assert rig.boxes[1].bus_voltage_v == box.bus_voltage_v  # its link is on the bus too
        rig.step()


def test_a_box_precharging_into_a_bus_held_by_another_carries_the_gap() -> None:
    (e1_v, r1_ohm), (e2_v, r2_ohm) = pack1, pack2 = (400.0, 0.1), (380.0, 0.2)
    rig = Rig([FixedCells(*pack1), FixedCells(*pack2)])
    rig.wanted = [CLOSED, PRECHARGING]
    rig.run(1.0)
    bus_v = node_voltage_v([pack1, (e2_v, r2_ohm + PRECHARGE_OHM)])
    assert rig.boxes[1].branch_mode() is BranchMode.PRECHARGE
    assert rig.boxes[1].current_a == pytest.approx((bus_v - e2_v) / (r2_ohm + PRECHARGE_OHM),
                                                   abs=1e-9)
    assert rig.boxes[1].current_a == pytest.approx(20.0 / 50.3, rel=1e-3)  # held: ~E1
    assert rig.boxes[0].current_a == pytest.approx((bus_v - e1_v) / r1_ohm, abs=1e-9)


@pytest.mark.parametrize(("r1_ohm", "r2_ohm"), [(0.1, 0.1), (0.1, 0.3), (0.25, 0.05)])
def test_the_inverter_current_splits_inversely_to_the_packs_resistance(
        r1_ohm: float, r2_ohm: float) -> None:
    source_v, inverter_a = 400.0, -40.0
    rig = Rig([FixedCells(source_v, r1_ohm), FixedCells(source_v, r2_ohm)])
    rig.wanted = [CLOSED, CLOSED]
    result = rig.run(1.0, inverter_a)
    i1_a, i2_a = rig.boxes[0].current_a, rig.boxes[1].current_a
    # equal sources: both see the same drop, whatever the bleed takes
    assert i1_a / i2_a == pytest.approx(r2_ohm / r1_ohm, rel=1e-9)
    assert i1_a == pytest.approx(inverter_a * r2_ohm / (r1_ohm + r2_ohm), abs=0.04)
    assert result.inverter_current_a == inverter_a


def test_the_boxes_carry_the_inverters_current_once_the_link_has_settled() -> None:
    packs = [(400.0, 0.1), (396.0, 0.15), (390.0, 0.2)]
    rig = Rig([FixedCells(*p) for p in packs])
    rig.wanted = [CLOSED, CLOSED, PRECHARGING]
    while (first := rig.step(55.0)).inverter_current_a == 0.0:  # the relays' pull-in
        assert first.bus_voltage_v == 0.0
    # the step they closed in: the links take their charge, 3 mF x 398 V in 10 ms
    link_a = 3 * LINK_F * first.bus_voltage_v / STEP_S
    assert sum(b.current_a for b in rig.boxes) + first.bleed_current_a + link_a == \
        pytest.approx(55.0, abs=1e-9)
    assert link_a > 100.0
    result = rig.run(1.0, 55.0)
    assert sum(b.current_a for b in rig.boxes) + result.bleed_current_a == \
        pytest.approx(55.0, abs=1e-9)
    assert result.bleed_current_a == pytest.approx(3 * result.bus_voltage_v / BOX_BLEED_OHM)


def test_no_current_flows_without_a_closed_box() -> None:
    rig = Rig([FixedCells(400.0, 0.1), FixedCells(400.0, 0.1)])
    result = rig.run(1.0, -100.0)
    assert result.inverter_current_a == 0.0
    assert [b.current_a for b in rig.boxes] == [0.0, 0.0]
    assert result.bus_voltage_v == 0.0
    rig.wanted = [PRECHARGING, OPEN]
    result = rig.run(2.0, -100.0)  # 19 time constants of 0.1 s: charged, nothing moves
    assert result.inverter_current_a == 0.0
    assert rig.boxes[0].current_a == pytest.approx(-result.bus_voltage_v / BOX_BLEED_OHM * 2,
                                                   abs=1e-6)  # feeds only the bleed
    assert result.bus_voltage_v == pytest.approx(400.0 * 10_000.0 / 10_050.1, abs=1e-4)


def test_a_blown_fuse_drops_the_branch() -> None:
    # 1000 A circulate between the packs: the first box's 600 A fuse opens after 0.2 s
    strong = load_settings(None, ["sim.hv_box.fuse_rating_a=5000"])
    rig = Rig([FixedCells(400.0, 0.05), FixedCells(300.0, 0.05)], [load_settings(), strong])
    rig.wanted = [CLOSED, CLOSED]
    rig.run(0.1)
    assert rig.boxes[0].current_a == pytest.approx(-1000.0, rel=1e-3)
    assert not rig.boxes[0].fuse_blown
    rig.run(0.2)
    fuse = rig.boxes[0]
    assert fuse.fuse_blown
    assert fuse.contactors == CLOSED  # the relays still closed; the fuse is open
    assert fuse.branch_mode() is BranchMode.OPEN
    result = rig.run(0.1, 20.0)
    assert fuse.current_a == 0.0
    assert result.currents_a[0] == 0.0
    # alone, the other pack takes all the inverter gives, less the bleed
    assert rig.boxes[1].current_a == pytest.approx(20.0 - result.bleed_current_a, abs=1e-9)


@pytest.mark.parametrize(("contactors", "blown", "mode"), [
    (OPEN, False, BranchMode.OPEN),
    (Contactors(main_plus=True, main_minus=False, precharge=True), False, BranchMode.OPEN),
    (Contactors(main_plus=False, main_minus=True, precharge=False), False, BranchMode.OPEN),
    (PRECHARGING, False, BranchMode.PRECHARGE),
    (CLOSED, False, BranchMode.CLOSED),
    (Contactors(main_plus=True, main_minus=True, precharge=True), False, BranchMode.CLOSED),
    (CLOSED, True, BranchMode.OPEN),
    (PRECHARGING, True, BranchMode.OPEN),
])
def test_the_box_reports_how_its_contactors_connect_the_pack(
        contactors: Contactors, blown: bool, mode: BranchMode) -> None:
    box = HvBox(load_settings(), 0.0)
    for relay, closed in ((ContactorId.MAIN_PLUS, contactors.main_plus),
                          (ContactorId.MAIN_MINUS, contactors.main_minus),
                          (ContactorId.PRECHARGE, contactors.precharge)):
        box.relays[relay].closed = closed
    box.fuse_blown = blown
    assert box.branch_mode() is mode


def test_a_box_joins_the_bus_before_it_is_put_on_it() -> None:
    with pytest.raises(ValueError, match="shared-bus mode"):
        SitePlant(DcBus(LINK_F), [(HvBox(load_settings(), 0.0), FixedCells(400.0, 0.1))])


# --- the cells as a source ----------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "balancing_mask"), [
    ([], 0), (["sim.cells.model=estimator"], 0), ([], 0b1010_0000_0000_0101),
    (["sim.cells.balancing=active"], 0b11)])
def test_a_modules_terminal_voltage_is_its_thevenin_source_plus_i_r(
        overrides: list[str], balancing_mask: int) -> None:
    afe = SimAfe(load_settings(None, overrides), 0, 0.0)
    afe.set_true_current(-30.0, 0.0)  # polarise the cells, warm them, move the hysteresis
    afe.set_true_current(12.0, 40.0)
    afe.set_balancing(balancing_mask)
    cells = afe.thevenin(45.0)
    plant = afe.plant
    for current_a in (-80.0, -5.0, 0.0, 17.0, 60.0):
        assert sum(plant.cell_voltages_v(current_a)) == pytest.approx(
            cells.source_v + current_a * cells.resistance_ohm, abs=1e-9)
    assert any(cell.v_rc_v != 0.0 for cell in plant.cells)
    assert all(cell.temperature_degc > 25.0 for cell in plant.cells)  # R0 of a warm cell
    assert cells.resistance_ohm < sum(cell.p.r0_ohm for cell in plant.cells)
    if not balancing_mask:  # then E is exactly OCV, polarisation and hysteresis
        assert cells.source_v == pytest.approx(sum(
            c.ocv_v() + c.v_rc_v + c.v_rc2_v + c.hysteresis * c.p.hysteresis_v
            for c in plant.cells), abs=1e-12)


def test_a_packs_source_is_its_modules_in_series_at_that_moment() -> None:
    settings = load_settings(None, ["pack.modules=3"])
    afes = [SimAfe(settings, m, 0.0) for m in range(3)]
    for afe in afes:
        afe.set_true_current(-25.0, 0.0)
    pack = ModulesInSeries(afes).thevenin(30.0)
    assert all(afe._last_s == 30.0 for afe in afes)  # advanced to the time asked
    modules = [afe.plant.thevenin() for afe in afes]
    assert pack.source_v == pytest.approx(sum(m.source_v for m in modules), abs=1e-12)
    assert pack.resistance_ohm == pytest.approx(sum(m.resistance_ohm for m in modules))


# --- whole packs ---------------------------------------------------------------------------


def normal(*packs: LockstepPack) -> bool:
    return all(p.master.state is MasterState.NORMAL for p in packs)


def test_two_lockstep_packs_share_one_bus() -> None:
    inverter_a = [0.0]
    # the second pack a little fuller (its E about 0.3 V higher), and joining later
    first = LockstepPack(load_settings(None, ["pack.modules=2"]))
    second = LockstepPack(load_settings(None, ["pack.modules=2", "sim.cells.initial_soc_pct=61",
                                               "sim.vcu.start_delay_s=4"]))
    site = PacksOnBus([first, second], lambda now_s: inverter_a[0])
    plant = site.plant
    site.run_until(lambda: normal(first), 10.0)
    assert second.box.branch_mode() is BranchMode.OPEN
    site.run_until(lambda: second.box.branch_mode() is BranchMode.PRECHARGE, 10.0)
    # the second precharges into the bus the first holds (for a step: the gap is small)
    e2 = plant.branches[1]
    assert first.box.bus_voltage_v == second.box.bus_voltage_v == pytest.approx(
        plant.branches[0].source_v, abs=0.01)
    assert second.box.current_a == pytest.approx(
        (second.box.bus_voltage_v - e2.source_v) / (e2.resistance_ohm + PRECHARGE_OHM),
        abs=1e-9)
    assert second.box.current_a < -1e-3  # the fuller one gives a little to the link
    site.run_until(lambda: normal(first, second), 5.0)
    list(site.step() for _ in range(100))  # 1 s: the masters settled, their currents too
    one, two = plant.branches
    circulating_a = (two.source_v - one.source_v) / (one.resistance_ohm + two.resistance_ohm)
    assert circulating_a > 0.1
    bleed_a = plant.last.bleed_current_a if plant.last is not None else math.nan
    assert first.box.current_a == pytest.approx(circulating_a, abs=bleed_a)
    assert second.box.current_a == pytest.approx(-circulating_a, abs=bleed_a)
    inverter_a[0] = -20.0  # a discharge: the site's inverter draws 20 A
    list(site.step() for _ in range(100))
    before_v = plant.bus.voltage_v
    site.step()
    bleed_a = plant.last.bleed_current_a if plant.last is not None else math.nan
    # the cells' polarisation still lowers the bus a little: the links give that charge
    link_a = 2 * LINK_F * (plant.bus.voltage_v - before_v) / STEP_S
    assert first.box.current_a + second.box.current_a + bleed_a + link_a == \
        pytest.approx(-20.0, abs=1e-9)
    assert abs(link_a) < 1e-3
    for pack in (first, second):
        assert pack.box.bus_voltage_v == plant.bus.voltage_v
        assert all(afe._pack_current_a == pack.box.current_a for afe in pack.afes)
        measured = pack.master.pack_current_a
        assert measured is not None
        assert measured.value == pytest.approx(pack.box.current_a, abs=0.01)  # its IVT-S
        assert pack.box.current_a < -5.0
