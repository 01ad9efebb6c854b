"""Which pack closes onto the DC bus next, and which way the site steers the bus so that
the packs still waiting come within the window (docs/site.md, "Joining a live bus").

A pack closing onto a bus at another voltage drives (V_bus - E)/(R_pack + R_bus) through
both until their voltages meet, so a pack may close only within ``window_v`` of the bus:
of the bus at zero current (the connected packs' sources, not their voltage under load),
because while a pack closes the site holds the current at zero, so that the bus does not
move away from it by the current times the connected packs' resistance.
On a dead bus the first pack precharges it (its own state machine, as a single pack does);
which one: by default the pack the most others could join at once (the largest group
within the window around it), else the lowest or the highest. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Candidate:
    name: str
    voltage_v: float


class Steer(Enum):
    BOTH = "both"  # nothing waits (or steering is off): both directions
    HOLD = "hold"  # a pack is closing onto the bus: 0 A both ways until it has
    CHARGE = "charge"  # the nearest waiting pack is above the bus: only charge
    DISCHARGE = "discharge"


def first_pack(candidates: Sequence[Candidate], window_v: float,
               rule: str = "most_joinable") -> Candidate | None:
    """The pack that precharges a dead bus."""
    if not candidates:
        return None
    if rule == "lowest":
        return min(candidates, key=lambda c: (c.voltage_v, c.name))
    if rule == "highest":
        return max(candidates, key=lambda c: (c.voltage_v, c.name))

    def joinable(c: Candidate) -> int:
        return sum(abs(o.voltage_v - c.voltage_v) <= window_v for o in candidates)

    # the most joinable; of equals, the lowest (a home battery charges first in the day)
    return min(candidates, key=lambda c: (-joinable(c), c.voltage_v, c.name))


def next_pack(candidates: Sequence[Candidate], bus_v: float,
              window_v: float) -> Candidate | None:
    """The pack inside the window nearest the bus."""
    inside = next_packs(candidates, bus_v, window_v)
    return inside[0] if inside else None


def next_packs(candidates: Sequence[Candidate], bus_v: float,
               window_v: float) -> list[Candidate]:
    """Every pack inside the window, the nearest first: they join the live bus together
    (each within the window of the bus is within twice it of another, and the bus holds
    them: a site of many packs is not joined one at a time)."""
    inside = [c for c in candidates if abs(c.voltage_v - bus_v) <= window_v]
    return sorted(inside, key=lambda c: (abs(c.voltage_v - bus_v), c.name))


def steer(waiting: Sequence[Candidate], bus_v: float) -> tuple[Steer, Candidate | None]:
    """The direction that brings the bus to the nearest waiting pack, and that pack."""
    if not waiting:
        return Steer.BOTH, None
    nearest = min(waiting, key=lambda c: (abs(c.voltage_v - bus_v), c.name))
    return (Steer.CHARGE if nearest.voltage_v > bus_v else Steer.DISCHARGE), nearest


def gap_text(candidate: Candidate, bus_v: float, window_v: float) -> str:
    gap_v = candidate.voltage_v - bus_v
    side = "above" if gap_v > 0 else "below"
    return (f"waits: {candidate.voltage_v:.1f} V is {abs(gap_v):.2f} V {side} the bus "
            f"({bus_v:.1f} V; window {window_v:g} V)")
