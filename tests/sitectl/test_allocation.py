"""The site's limits against the circuit solved another way: the bus voltage found by
bisection on Kirchhoff's current law, each pack's current from it (not the closed form the
code uses). Random sites of different packs: at the site's limit no pack exceeds its own,
and one pack is exactly at its own (the limit is the largest safe one)."""

from __future__ import annotations

import random

import pytest

from sitectl.allocation import Branch, allocate


def currents_by_bisection(branches: list[Branch], site_current_a: float) -> list[float]:
    sources = [b.voltage_v - b.current_a * b.resistance_ohm for b in branches]

    def excess(bus_v: float) -> float:  # what flows into the packs less what the site gives
        return sum((bus_v - e) / b.resistance_ohm
                   for e, b in zip(sources, branches, strict=True)) - site_current_a

    low, high = min(sources) - 1000.0, max(sources) + 1000.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) < 0 else (low, middle)
    bus_v = (low + high) / 2
    return [(bus_v - e) / b.resistance_ohm for e, b in zip(sources, branches, strict=True)]


def random_site(rng: random.Random, packs: int) -> list[Branch]:
    """Packs that joined within a volt of each other: what circulates among them at zero
    site current stays within each one's limits (else no site current is safe at all:
    `test_packs_that_circulate_beyond_a_limit_get_no_current_that_worsens_it`)."""
    return [Branch(f"p{i}", rng.uniform(209.0, 209.3), rng.uniform(-2.0, 2.0),
                   rng.uniform(0.02, 0.06), rng.uniform(30.0, 100.0), rng.uniform(30.0, 100.0))
            for i in range(packs)]


@pytest.mark.parametrize("seed", range(40))
def test_no_pack_exceeds_its_limits_at_the_site_limits(seed: int) -> None:
    rng = random.Random(seed)
    branches = random_site(rng, rng.randint(1, 6))
    allocation = allocate(branches)
    for site_current_a, limit in ((allocation.charge_a, "charge"),
                                  (-allocation.discharge_a, "discharge")):
        currents = currents_by_bisection(branches, site_current_a)
        for branch, current_a in zip(branches, currents, strict=True):
            assert current_a <= branch.charge_limit_a + 1e-6, (limit, branch.name)
            assert current_a >= -branch.discharge_limit_a - 1e-6, (limit, branch.name)
            assert allocation.current_of(branch.name, site_current_a) == \
                pytest.approx(current_a, abs=1e-6)
        if site_current_a != 0:  # tight: the limiter is at its own limit
            binding = currents[[b.name for b in branches].index(
                allocation.charge_limiter if limit == "charge" else
                allocation.discharge_limiter)]
            own = next(b for b in branches if b.name == (
                allocation.charge_limiter if limit == "charge" else
                allocation.discharge_limiter))
            expected = own.charge_limit_a if limit == "charge" else -own.discharge_limit_a
            assert binding == pytest.approx(expected, abs=1e-6)


def test_equal_packs_add_their_limits() -> None:
    # the aggregators' bug: the site's limit is not one pack's, it is N of them
    branches = [Branch(f"p{i}", 210.0, 0.0, 0.03, 50.0, 80.0) for i in range(3)]
    allocation = allocate(branches)
    assert allocation.charge_a == pytest.approx(150.0)
    assert allocation.discharge_a == pytest.approx(240.0)


def test_a_lower_resistance_takes_more_and_limits_first() -> None:
    # same limits; the 20 mOhm pack takes 3/4 of each ampere beside a 60 mOhm one
    allocation = allocate([Branch("low", 210.0, 0.0, 0.02, 50.0, 50.0),
                           Branch("high", 210.0, 0.0, 0.06, 50.0, 50.0)])
    assert allocation.charge_limiter == "low"
    assert allocation.charge_a == pytest.approx(50.0 / 0.75)


def test_a_pack_behind_the_others_limits_discharge_by_what_circulates() -> None:
    # the lower pack already charges from the higher at zero site current: (E1-E2)/(R1+R2)
    allocation = allocate([Branch("high", 211.0, 0.0, 0.03, 50.0, 50.0),
                           Branch("low", 209.0, 0.0, 0.03, 50.0, 50.0)])
    assert allocation.current_of("low", 0.0) == pytest.approx(2.0 / 0.06)
    # discharging, the high pack gives its share and the circulation
    assert allocation.discharge_limiter == "high"
    assert allocation.discharge_a == pytest.approx((50.0 - 2.0 / 0.06) / 0.5)


def test_packs_that_circulate_beyond_a_limit_get_no_current_that_worsens_it() -> None:
    # 6 V apart over 60 mOhm: 100 A from high into low, beyond low's 50 A charge limit
    allocation = allocate([Branch("high", 212.0, 0.0, 0.03, 50.0, 200.0),
                           Branch("low", 206.0, 0.0, 0.03, 50.0, 200.0)])
    assert allocation.charge_a == 0.0
    assert allocation.charge_limiter == "low"
    assert allocation.discharge_a > 0  # discharging takes from low's charge: it helps


def test_margin_keeps_every_pack_below_its_limit() -> None:
    branches = [Branch("a", 210.0, 0.0, 0.03, 100.0, 100.0),
                Branch("b", 210.0, 0.0, 0.03, 100.0, 100.0)]
    assert allocate(branches, margin=0.1).charge_a == pytest.approx(180.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -0.01])
def test_a_pack_the_model_cannot_place_allows_nothing(bad: float) -> None:
    branches = [Branch("a", 210.0, 0.0, 0.03, 100.0, 100.0),
                Branch("b", 210.0 if bad <= 0 else bad, 0.0, bad if bad <= 0 else 0.03,
                       100.0, 100.0)]
    allocation = allocate(branches)
    assert (allocation.charge_a, allocation.discharge_a) == (0.0, 0.0)


def test_no_pack_no_current() -> None:
    allocation = allocate([])
    assert (allocation.charge_a, allocation.discharge_a) == (0.0, 0.0)
