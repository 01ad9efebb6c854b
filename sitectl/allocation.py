"""How a site current divides among packs in parallel, and the largest site currents for
which no pack exceeds its own limits (docs/site.md, "The limits").

Each connected pack is a source E_i behind a resistance R_i, all on one bus. With the site
current I (positive charges) the bus settles at V = (I + sum E_i/R_i) / sum 1/R_i, so pack i
carries I_i = (V - E_i)/R_i = g_i I + c_i: a share g_i = (1/R_i) / sum 1/R_j of every
ampere, and c_i, what circulates among the packs at I = 0 (from the higher packs into the
lower). E_i is not measured: it is the pack's voltage less its current through R_i, both
as the pack last published them. Each I_i rises with I, so the site's charge limit is the
smallest (L_charge_i - c_i)/g_i over the packs and its discharge limit the smallest
(L_discharge_i + c_i)/g_i, each pack's limits used less ``margin``: the resistances are
the packs' estimates. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Branch:
    """A connected pack as the site sees it."""

    name: str
    voltage_v: float
    current_a: float  # positive charges
    resistance_ohm: float
    charge_limit_a: float  # its own, magnitudes
    discharge_limit_a: float


@dataclass(frozen=True)
class Share:
    name: str
    share: float  # of each ampere of the site's current
    circulating_a: float  # at zero site current (positive: the pack charges)


@dataclass(frozen=True)
class Allocation:
    charge_a: float  # the site's limits, magnitudes
    discharge_a: float
    charge_limiter: str  # the pack whose limit binds ("" without packs)
    discharge_limiter: str
    shares: tuple[Share, ...]
    idle_v: float | None = None  # the bus at zero site current (None without packs)

    def current_of(self, name: str, site_current_a: float) -> float:
        """Pack ``name``'s current for this site current (the model's prediction)."""
        for share in self.shares:
            if share.name == name:
                return share.share * site_current_a + share.circulating_a
        raise KeyError(name)


NOTHING = Allocation(0.0, 0.0, "", "", ())


def allocate(branches: Sequence[Branch], margin: float = 0.0) -> Allocation:
    """The site's limits over ``branches`` (the connected packs); ``margin`` 0..1."""
    usable = [b for b in branches if b.resistance_ohm > 0 and math.isfinite(b.resistance_ohm)
              and math.isfinite(b.voltage_v) and math.isfinite(b.current_a)]
    if not usable or len(usable) != len(branches):
        return NOTHING  # a pack the model cannot place: nothing is safe to promise
    conductance = sum(1.0 / b.resistance_ohm for b in usable)
    sources = [b.voltage_v - b.current_a * b.resistance_ohm for b in usable]
    idle_v = sum(e / b.resistance_ohm for e, b in zip(sources, usable, strict=True)) / conductance
    shares = tuple(Share(b.name, (1.0 / b.resistance_ohm) / conductance,
                         (idle_v - e) / b.resistance_ohm)
                   for e, b in zip(sources, usable, strict=True))
    keep = 1.0 - margin
    charge = [((b.charge_limit_a * keep - s.circulating_a) / s.share, b.name)
              for b, s in zip(usable, shares, strict=True)]
    discharge = [((b.discharge_limit_a * keep + s.circulating_a) / s.share, b.name)
                 for b, s in zip(usable, shares, strict=True)]
    charge_a, charge_limiter = min(charge)
    discharge_a, discharge_limiter = min(discharge)
    return Allocation(max(0.0, charge_a), max(0.0, discharge_a), charge_limiter,
                      discharge_limiter, shares, idle_v)
