"""The DC side of a virtual site: the packs' HV boxes on one DC bus behind one inverter.

`SitePlant` owns the bus (sim/dc_bus.py) and, per pack, its box and its cells as a Thevenin
source. Each step, at one time for all: every box's contactors settle, it says how it
connects its pack (`HvBox.branch_mode`), every pack's source is read at that moment, the bus
steps, and every box takes its current and the bus voltage for its tick. The bus's
capacitance is every box's DC link and the inverter's input; its bleed, the boxes' bleed
resistors in parallel.

`PacksOnBus` steps lockstep packs (sim/lockstep.py) together on such a plant, the
inverter's current from a callable: the plant first, then each pack's own step, whose box
reports the bus's current on its sensor and whose harness gives the cells that same current
(`LockstepPack._currents`). Pure: time is passed in or kept by the packs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from sim.dc_bus import Branch, BusStep, DcBus
from sim.hv_box import HvBox
from sim.lockstep import LockstepPack, WireFrame
from sim.module_plant import Thevenin
from slave.afe.sim import SimAfe

UF_PER_F: Final = 1e6

# the inverter's current at a time (positive: into the batteries)
InverterCurrent = Callable[[float], float]


class Stepper(Protocol):
    """What steps on virtual time: a bus of packs, a site."""

    @property
    def now_s(self) -> float: ...

    def step(self) -> object: ...


def run_until(stepper: Stepper, condition: Callable[[], bool], timeout_s: float) -> float:
    """Step until ``condition`` holds; returns the virtual time it took."""
    start_s = stepper.now_s
    while not condition():
        if stepper.now_s - start_s > timeout_s:
            raise TimeoutError(f"condition not met within {timeout_s} s of virtual time")
        stepper.step()
    return stepper.now_s - start_s


class TheveninSource(Protocol):
    """A pack's cells as one source at a moment."""

    def thevenin(self, now_s: float) -> Thevenin: ...


class ModulesInSeries:
    """A pack's modules (their simulated AFEs) as one source: E and R summed."""

    def __init__(self, afes: Sequence[SimAfe]) -> None:
        self.afes = afes

    def thevenin(self, now_s: float) -> Thevenin:
        modules = [afe.thevenin(now_s) for afe in self.afes]
        return Thevenin(sum([m.source_v for m in modules]),
                        sum([m.resistance_ohm for m in modules]))


def bus_of_boxes(boxes: Sequence[HvBox], inverter_capacitance_f: float = 0.0) -> DcBus:
    """The bus the boxes' DC links make together with the inverter's input, uncharged."""
    capacitance_f = inverter_capacitance_f + sum(
        [box.box.dc_link_capacitance_uf / UF_PER_F for box in boxes])
    bleed_s = sum([1.0 / box.box.bus_bleed_resistor_ohm for box in boxes])
    return DcBus(capacitance_f, 1.0 / bleed_s if bleed_s > 0.0 else float("inf"))


class SitePlant:
    """The bus and what hangs on it; `step` before the boxes' ticks at the same time."""

    def __init__(self, bus: DcBus, members: Sequence[tuple[HvBox, TheveninSource]],
                 start_s: float = 0.0, source_period_s: float = 0.0) -> None:
        """``source_period_s``: the packs' sources are read this often (0: every step);
        they move with the cells' SOC and their RC pairs (seconds and more), and reading
        them advances every cell: the site's lockstep harness reads them every 0.1 s."""
        for box, _ in members:
            if not box.shared_bus:
                raise ValueError("a box on the site's bus must be in shared-bus mode "
                                 "(HvBox.join_shared_bus)")
        self.bus = bus
        self.members = list(members)
        self.branches: list[Branch] = []  # of the latest step: each pack's E, R and mode
        self.last: BusStep | None = None
        self._last_s = start_s
        self.source_period_s = source_period_s
        self._sources: list[Thevenin] = []
        self._sources_at_s = -math.inf

    def step(self, now_s: float, inverter_current_a: float) -> BusStep:
        """The bus from the latest step to ``now_s``, with the contactors as they are at
        ``now_s``; each box takes its current and the bus voltage."""
        self.branches = []
        if now_s - self._sources_at_s >= self.source_period_s - 1e-9:
            self._sources = [source.thevenin(now_s) for _, source in self.members]
            self._sources_at_s = now_s
        for (box, _), cells in zip(self.members, self._sources, strict=True):
            box.settle(now_s)
            self.branches.append(Branch(cells.source_v, cells.resistance_ohm, box.branch_mode(),
                                        box.box.precharge_resistor_ohm))
        result = self.bus.step(now_s - self._last_s, inverter_current_a, self.branches)
        self._last_s = now_s
        for (box, _), current_a in zip(self.members, result.currents_a, strict=True):
            box.take_bus(current_a, result.bus_voltage_v)
        self.last = result
        return result


class PacksOnBus:
    """Lockstep packs stepped together on one bus: all at one time, with one step."""

    def __init__(self, packs: Sequence[LockstepPack], inverter_current_a: InverterCurrent,
                 inverter_capacitance_f: float = 0.0, source_period_s: float = 0.0) -> None:
        """Puts every pack's box on the bus (shared-bus mode)."""
        if not packs:
            raise ValueError("a bus needs at least one pack")
        first = packs[0]
        if any(p.now_s != first.now_s or p.step_s != first.step_s for p in packs):
            raise ValueError("the packs on one bus must share their time and their step")
        self.packs = list(packs)
        self.inverter_current_a = inverter_current_a
        for pack in self.packs:
            pack.box.join_shared_bus()
        self.plant = SitePlant(
            bus_of_boxes([p.box for p in self.packs], inverter_capacitance_f),
            [(p.box, ModulesInSeries(p.afes)) for p in self.packs], first.now_s,
            source_period_s)

    @property
    def now_s(self) -> float:
        return self.packs[0].now_s

    def step(self) -> list[list[WireFrame]]:
        """One step of the bus, then of every pack: what each pack's wires carried."""
        now_s = self.now_s
        self.plant.step(now_s, self.inverter_current_a(now_s))
        return [pack.step() for pack in self.packs]

    def run_until(self, condition: Callable[[], bool], timeout_s: float) -> float:
        """Step until ``condition`` holds; returns the virtual time it took."""
        return run_until(self, condition, timeout_s)
