"""The shared DC bus against the circuit's analytic solutions."""

from __future__ import annotations

import math

import pytest

from sim.dc_bus import Branch, BranchMode, BusStep, DcBus

CLOSED, PRECHARGE, OPEN = BranchMode.CLOSED, BranchMode.PRECHARGE, BranchMode.OPEN
LINK_F = 2e-3  # two boxes' DC links of 1000 uF
STEP_S = 0.01  # the lockstep harness's step
PRECHARGE_OHM = 50.0


def settle(bus: DcBus, branches: list[Branch], inverter_a: float = 0.0,
           steps: int = 50) -> BusStep:
    """Closed packs: R*C = 0.3 ms against a 10 ms step, each step leaves 1 % of the gap."""
    result = bus.step(STEP_S, inverter_a, branches)
    for _ in range(steps - 1):
        result = bus.step(STEP_S, inverter_a, branches)
    return result


def test_two_closed_packs_circulate_their_difference_over_both_resistances() -> None:
    e1_v, r1_ohm, e2_v, r2_ohm = 400.0, 0.1, 396.0, 0.15
    bus = DcBus(LINK_F)
    voltages_v = [bus.step(STEP_S, 0.0, [Branch(e1_v, r1_ohm, CLOSED),
                                         Branch(e2_v, r2_ohm, CLOSED)]).bus_voltage_v
                  for _ in range(50)]
    result = settle(bus, [Branch(e1_v, r1_ohm, CLOSED), Branch(e2_v, r2_ohm, CLOSED)])
    circulating_a = (e1_v - e2_v) / (r1_ohm + r2_ohm)  # 16 A out of pack 1 into pack 2
    assert result.currents_a == pytest.approx((-circulating_a, circulating_a), abs=1e-9)
    assert result.bus_voltage_v == pytest.approx(e1_v - circulating_a * r1_ohm, abs=1e-9)
    # implicit Euler on a node far stiffer than the step: straight there, no ringing
    assert voltages_v == sorted(voltages_v)
    assert max(voltages_v) <= result.bus_voltage_v + 1e-9


@pytest.mark.parametrize("step_s", [0.01, 0.001])
def test_a_pack_precharging_a_bare_link_follows_the_rc_charge(step_s: float) -> None:
    source_v, r_ohm = 400.0, 0.5
    tau_s = (r_ohm + PRECHARGE_OHM) * LINK_F  # 0.101 s: near the step
    h = step_s / tau_s
    # backward Euler gives V_n = E (1 - (1 + h)^-n); with ln(1 + h) >= h - h^2/2 the gap to
    # E (1 - exp(-n h)) is at most E (h/2) x exp(-x (1 - h/2)) at x = n h, whose maximum is
    # E h / (2 e (1 - h/2)): 3.9 % of E at 10 ms, 0.4 % at 1 ms; it lags, never leads
    bound_v = source_v * h / (2.0 * math.e * (1.0 - h / 2.0))
    bus = DcBus(LINK_F)
    branch = [Branch(source_v, r_ohm, PRECHARGE, PRECHARGE_OHM)]
    gaps_v = []
    for n in range(1, round(5 * tau_s / step_s) + 1):
        result = bus.step(step_s, 0.0, branch)
        exact_v = source_v * (1.0 - math.exp(-n * step_s / tau_s))
        gaps_v.append(exact_v - result.bus_voltage_v)
        assert result.currents_a[0] == pytest.approx(
            (result.bus_voltage_v - source_v) / (r_ohm + PRECHARGE_OHM), rel=1e-12)
    assert min(gaps_v) >= 0.0
    assert max(gaps_v) <= bound_v
    assert max(gaps_v) >= 0.8 * source_v * h / (2.0 * math.e)  # first order: the bound's size
    assert result.inverter_current_a == 0.0


def test_a_pack_precharging_into_a_held_bus_carries_the_gap_over_its_resistors() -> None:
    e1_v, r1_ohm, e2_v, r2_ohm = 400.0, 0.1, 380.0, 0.2
    result = settle(DcBus(LINK_F), [Branch(e1_v, r1_ohm, CLOSED),
                                    Branch(e2_v, r2_ohm, PRECHARGE, PRECHARGE_OHM)])
    # the node between pack 1 and pack 2's resistors: a divider of the two sources
    g1_s, g2_s = 1.0 / r1_ohm, 1.0 / (r2_ohm + PRECHARGE_OHM)
    bus_v = (e1_v * g1_s + e2_v * g2_s) / (g1_s + g2_s)
    assert result.bus_voltage_v == pytest.approx(bus_v, abs=1e-9)
    assert result.currents_a[1] == pytest.approx((bus_v - e2_v) / (r2_ohm + PRECHARGE_OHM),
                                                 abs=1e-9)
    assert result.currents_a[1] == pytest.approx(20.0 / 50.3, rel=1e-3)  # the held bus: ~E1
    assert sum(result.currents_a) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("resistances_ohm", "inverter_a"), [
    ((0.1, 0.1), -40.0), ((0.1, 0.3), -40.0), ((0.05, 0.1, 0.2), 70.0)])
def test_the_inverter_current_splits_inversely_to_resistance_at_equal_sources(
        resistances_ohm: tuple[float, ...], inverter_a: float) -> None:
    source_v = 400.0
    result = settle(DcBus(LINK_F), [Branch(source_v, r, CLOSED) for r in resistances_ohm],
                    inverter_a)
    conductance_s = sum(1.0 / r for r in resistances_ohm)
    assert result.currents_a == pytest.approx(
        [inverter_a / r / conductance_s for r in resistances_ohm], abs=1e-9)
    assert result.bus_voltage_v == pytest.approx(source_v + inverter_a / conductance_s,
                                                 abs=1e-9)


def test_the_branch_currents_add_up_to_the_inverters_once_the_link_has_settled() -> None:
    bus = DcBus(LINK_F, bleed_resistance_ohm=10_000.0)
    branches = [Branch(400.0, 0.1, CLOSED), Branch(396.0, 0.15, CLOSED),
                Branch(390.0, 0.2, PRECHARGE, PRECHARGE_OHM), Branch(350.0, 0.1, OPEN)]
    first = bus.step(STEP_S, -60.0, branches)
    assert sum(first.currents_a) + first.bleed_current_a != pytest.approx(-60.0, abs=1.0)
    result = settle(bus, branches, -60.0)  # the link charged from 0 V: in the first step
    assert result.inverter_current_a == -60.0
    assert result.currents_a[3] == 0.0
    assert sum(result.currents_a) + result.bleed_current_a == pytest.approx(-60.0, abs=1e-9)
    assert result.bleed_current_a == pytest.approx(result.bus_voltage_v / 10_000.0)


@pytest.mark.parametrize("modes", [(OPEN, OPEN), (PRECHARGE, OPEN), (PRECHARGE, PRECHARGE)])
def test_the_inverter_moves_nothing_without_a_closed_branch(
        modes: tuple[BranchMode, BranchMode]) -> None:
    bus = DcBus(LINK_F)
    branches = [Branch(400.0, 0.1, mode, PRECHARGE_OHM) for mode in modes]
    result = settle(bus, branches, -100.0, steps=400)
    assert result.inverter_current_a == 0.0
    connected = PRECHARGE in modes
    # a precharge path: only its own charge, all of it settled; none: nothing at all
    assert result.bus_voltage_v == pytest.approx(400.0 if connected else 0.0, abs=1e-6)
    assert result.currents_a == pytest.approx((0.0, 0.0), abs=1e-6)


def test_an_open_bus_bleeds_down() -> None:
    bleed_ohm = 10_000.0
    bus = DcBus(LINK_F, bleed_ohm, voltage_v=400.0)
    tau_s = bleed_ohm * LINK_F  # 20 s: the step is tiny against it
    for _ in range(1000):
        result = bus.step(STEP_S, -30.0, [Branch(400.0, 0.1, OPEN)])
    assert result.currents_a == (0.0,)
    assert result.bus_voltage_v == pytest.approx(400.0 * math.exp(-10.0 / tau_s), rel=1e-3)


def test_a_step_of_no_time_changes_no_voltage() -> None:
    bus = DcBus(LINK_F, voltage_v=390.0)
    result = bus.step(0.0, -10.0, [Branch(400.0, 0.5, CLOSED)])
    assert result.bus_voltage_v == 390.0
    assert result.currents_a == pytest.approx((-20.0,))


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="forwards"):
        DcBus(LINK_F).step(-0.01, 0.0, [])
    with pytest.raises(ValueError, match="positive"):
        Branch(400.0, 0.0, CLOSED)
    with pytest.raises(ValueError, match="positive"):
        DcBus(0.0)
