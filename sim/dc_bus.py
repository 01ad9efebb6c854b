"""The shared DC bus of a site: several packs in parallel behind one inverter.

One node: its capacitance (every box's DC link and the inverter's input) and a bleed
resistance across it; the inverter, a current source (positive: into the batteries); and a
branch per pack: its Thevenin source E (the cells' OCV and polarisation, summed) behind R
(the cells' R0, summed), connected as its box's contactors say: closed (R), precharge only
(R + the precharge resistor) or open (no branch). The inverter moves nothing while no
branch's main contactors are closed: it has no battery to work against.

A step is implicit (backward) Euler on the node:

    V' = (C V / dt + I_inv + sum E_i / R_i) / (C / dt + 1 / R_bleed + sum 1 / R_i)
    I_i = (V' - E_i) / R_i  (positive charges pack i)

unconditionally stable: a closed pack's R*C (well under a millisecond) far below the step
settles within the step without ringing, and the precharge's R*C near the step is followed
to first order, the voltage within (dt/tau) / (2e) of the exact exponential. Pure and
synchronous: the caller gives the step's length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class BranchMode(Enum):
    """How a pack's box connects it to the bus."""

    OPEN = "open"  # no path (a blown fuse too)
    PRECHARGE = "precharge"  # main minus and the precharge relay: through the resistor
    CLOSED = "closed"  # main minus and main plus


@dataclass(frozen=True)
class Branch:
    """One pack as the bus sees it this step."""

    source_v: float  # E: the cells' open-circuit voltage with their polarisation, summed
    resistance_ohm: float  # R: the cells' R0 at their temperature, summed
    mode: BranchMode
    precharge_resistor_ohm: float = 0.0

    def __post_init__(self) -> None:
        if not self.resistance_ohm > 0.0 or not self.precharge_resistor_ohm >= 0.0:
            raise ValueError(f"branch resistance {self.resistance_ohm} ohm must be positive "
                             f"and the precharge resistor {self.precharge_resistor_ohm} ohm "
                             "not negative")

    def conductance_s(self) -> float:
        """Of the path from the source to the bus; 0: open."""
        if self.mode is BranchMode.CLOSED:
            return 1.0 / self.resistance_ohm
        if self.mode is BranchMode.PRECHARGE:
            return 1.0 / (self.resistance_ohm + self.precharge_resistor_ohm)
        return 0.0


@dataclass(frozen=True)
class BusStep:
    """What one step settled: the bus voltage at its end and the currents over it."""

    bus_voltage_v: float
    currents_a: tuple[float, ...]  # per branch, in the order given; positive charges the pack
    inverter_current_a: float  # what the inverter moved (0 while no branch is closed)
    bleed_current_a: float  # through the bleed resistance


class DcBus:
    """The bus node's state (its voltage) and its step."""

    def __init__(self, capacitance_f: float, bleed_resistance_ohm: float = math.inf,
                 voltage_v: float = 0.0) -> None:
        """``bleed_resistance_ohm``: every resistor across the bus in parallel (inf: none)."""
        if not capacitance_f > 0.0 or not bleed_resistance_ohm > 0.0:
            raise ValueError(f"bus capacitance {capacitance_f} F and bleed resistance "
                             f"{bleed_resistance_ohm} ohm must be positive")
        self.capacitance_f = capacitance_f
        self.bleed_resistance_ohm = bleed_resistance_ohm
        self.voltage_v = voltage_v

    def step(self, dt_s: float, inverter_current_a: float,
             branches: Sequence[Branch]) -> BusStep:
        """Advance by ``dt_s`` with the inverter asking for ``inverter_current_a``; a step
        of 0 s changes no voltage (the currents are those of the present one)."""
        if dt_s < 0.0:
            raise ValueError(f"bus step {dt_s} s: time runs forwards")
        conductances_s = [branch.conductance_s() for branch in branches]
        closed = any(branch.mode is BranchMode.CLOSED for branch in branches)
        moved_a = inverter_current_a if closed else 0.0
        if dt_s > 0.0:
            charge_s = self.capacitance_f / dt_s
            numerator_a = charge_s * self.voltage_v + moved_a + sum(
                branch.source_v * g for branch, g in zip(branches, conductances_s, strict=True))
            self.voltage_v = numerator_a / (charge_s + 1.0 / self.bleed_resistance_ohm
                                            + sum(conductances_s))
        voltage_v = self.voltage_v
        currents_a = tuple([(voltage_v - branch.source_v) * g if g > 0.0 else 0.0
                            for branch, g in zip(branches, conductances_s, strict=True)])
        return BusStep(voltage_v, currents_a, moved_a, voltage_v / self.bleed_resistance_ohm)
