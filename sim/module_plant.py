"""One battery module of the virtual pack: its cells, balancing circuit and temperature sensors.

Balancing is passive (a bleed resistor across each commanded cell: its energy becomes heat)
or active (a converter takes a fixed current from each commanded cell and returns the
energy, less its losses, to the whole module as a charge current shared by every cell).

Seen from the string, the module is one Thevenin source at each moment (`thevenin`: what
a shared DC bus of several packs needs, sim/dc_bus.py).

Cell-to-cell spread of capacity, resistance and initial SOC is drawn from a generator seeded
with (seed, module id): the same configuration always builds the same pack.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from bms.chemistry import REFERENCE_CELLS, ReferenceCell
from bms.settings import CellSimSettings, Chemistry
from sim.cell import CellModel, CellParameters


def module_rng(seed: int, module_id: int, purpose: str) -> random.Random:
    """A reproducible generator per (seed, module, purpose): streams never interfere."""
    return random.Random(f"{seed}:{module_id}:{purpose}")


@dataclass(init=False)
class BleedState:
    """A bleeding cell: its current and heat. (``__init__`` written out: docs/compiled.md.)"""

    cell: int
    current_a: float
    heat_w: float

    def __init__(self, cell: int, current_a: float, heat_w: float) -> None:
        self.cell = cell
        self.current_a = current_a
        self.heat_w = heat_w


@dataclass(init=False)
class Thevenin:
    """A string of cells as a source: its terminal voltage at a current I is
    ``source_v + I * resistance_ohm`` (positive I charges). (``__init__`` written out:
    docs/compiled.md.)"""

    source_v: float
    resistance_ohm: float

    def __init__(self, source_v: float, resistance_ohm: float) -> None:
        self.source_v = source_v
        self.resistance_ohm = resistance_ohm


class ModulePlant:
    """The true state of a module's cells; the AFE reads it (with noise) through `sense`."""

    def __init__(self, settings: CellSimSettings, chemistry: Chemistry, module_id: int,
                 cells: int, sensors: int, capacity_ah: float = 0.0,
                 cell: ReferenceCell | None = None) -> None:
        """``cell``: the pack's cell (its cell file's); None: the chemistry's reference."""
        self.settings = settings
        self.module_id = module_id
        self.ambient_degc = settings.ambient_degc
        reference = cell or REFERENCE_CELLS[chemistry]
        reference = reference.scaled(capacity_ah or reference.capacity_ah)
        if settings.model == "estimator":  # the estimator's own one-RC model
            reference = replace(reference, r2_ohm=0.0, c2_f=0.0, hysteresis_v=0.0)
        rng = module_rng(settings.seed, module_id, "spread")
        self.cells: list[CellModel] = []
        for _ in range(cells):
            resistance = max(0.2, rng.gauss(1.0, settings.resistance_spread_pct / 100.0)) \
                * settings.resistance_factor
            capacity = max(0.2, rng.gauss(1.0, settings.capacity_spread_pct / 100.0)) \
                * settings.capacity_factor
            parameters = CellParameters(
                capacity_ah=reference.capacity_ah * capacity,
                r0_ohm=reference.r0_ohm * resistance,
                r1_ohm=reference.r1_ohm * resistance,
                c1_f=reference.c1_f,
                thermal_capacity_j_per_k=reference.thermal_capacity_j_per_k,
                thermal_conductance_w_per_k=reference.thermal_conductance_w_per_k,
                coulombic_efficiency=settings.coulombic_efficiency,
                self_discharge_per_s=CellParameters.self_discharge_rate(
                    settings.self_discharge_pct_per_month),
                ocv=reference.ocv,
                r2_ohm=reference.r2_ohm * resistance,
                c2_f=reference.c2_f,
                hysteresis_v=reference.hysteresis_v,
                r0_temperature=reference.r0_temperature,
                ocv_shift=reference.ocv_shift,
            )
            soc_pct = rng.gauss(settings.initial_soc_pct, settings.initial_soc_spread_pct)
            soc = min(max(soc_pct / 100.0, 0.0), 1.0)
            self.cells.append(CellModel(parameters, soc, settings.ambient_degc))
        # sensor k sits between the cells it is closest to
        self.sensor_cells: list[tuple[int, ...]] = [
            tuple(sorted({min(cells - 1, (k * cells) // sensors),
                          min(cells - 1, ((k + 1) * cells - 1) // sensors)}))
            for k in range(sensors)
        ]
        self.balancing_mask = 0

    def bleed_currents(self) -> list[BleedState]:
        """Current taken from each commanded cell, and the heat it makes at the cell."""
        s = self.settings
        bleeding = []
        for index, cell in enumerate(self.cells):
            if self.balancing_mask >> index & 1:
                if s.balancing == "active":
                    current = s.active_balancing_current_a
                    loss_w = current * cell.terminal_voltage_v(0.0) * \
                        (1.0 - s.active_balancing_efficiency)
                    bleeding.append(BleedState(index, current, loss_w))
                else:
                    current = cell.terminal_voltage_v(0.0) / s.balancing_resistor_ohm
                    heat = current * current * s.balancing_resistor_ohm
                    bleeding.append(BleedState(index, current, heat))
        return bleeding

    def _return_a(self, bleeding: list[BleedState]) -> float:
        """Active balancing: the charge current every cell of the module gets back."""
        s = self.settings
        if s.balancing != "active" or not bleeding:
            return 0.0
        taken_w = sum(b.current_a * self.cells[b.cell].terminal_voltage_v(0.0)
                      for b in bleeding)
        module_v = sum(cell.terminal_voltage_v(0.0) for cell in self.cells)
        return taken_w * s.active_balancing_efficiency / module_v

    def cell_currents_a(self, pack_current_a: float) -> list[tuple[float, float]]:
        """(current, extra heat) of every cell."""
        if not self.balancing_mask:  # nothing bleeds: the pack current through every cell
            return [(pack_current_a + 0.0, 0.0)] * len(self.cells)
        bleeding = self.bleed_currents()
        returned = self._return_a(bleeding)
        bleed = {b.cell: b for b in bleeding}
        heat_share = self.settings.balancing_heat_fraction
        currents = []
        for index in range(len(self.cells)):
            state = bleed.get(index)
            current = pack_current_a + returned - (state.current_a if state else 0.0)
            currents.append((current, state.heat_w * heat_share if state else 0.0))
        return currents

    def advance(self, dt_s: float, pack_current_a: float) -> None:
        """Let ``dt_s`` pass with the given pack current (positive charges)."""
        ambient_degc = self.ambient_degc
        if not self.balancing_mask:  # mostly: the pack current through every cell
            current_a = pack_current_a + 0.0
            for cell in self.cells:
                cell.step(dt_s, current_a, ambient_degc, 0.0)
            return
        for cell, (current, heat) in zip(self.cells, self.cell_currents_a(pack_current_a),
                                         strict=True):
            cell.step(dt_s, current, ambient_degc, heat)

    def cell_voltages_v(self, pack_current_a: float) -> list[float]:
        if not self.balancing_mask:
            current_a = pack_current_a + 0.0
            return [cell.terminal_voltage_v(current_a) for cell in self.cells]
        return [cell.terminal_voltage_v(current) for cell, (current, _) in
                zip(self.cells, self.cell_currents_a(pack_current_a), strict=True)]

    def thevenin(self) -> Thevenin:
        """The module's cells in series as one source at this moment (read only): E what they
        show without string current (each cell's OCV, RC pairs and hysteresis, and while
        balancing its balancing current over R0), R their R0 at their temperature, so that
        `cell_voltages_v` sums to E + I R at any string current I."""
        return Thevenin(
            sum(self.cell_voltages_v(0.0)),
            sum([cell.p.r0_ohm * cell.p.r0_temperature.factor(cell.temperature_degc)
                 for cell in self.cells]))

    def sensor_temperatures_degc(self) -> list[float]:
        return [sum(self.cells[i].temperature_degc for i in group) / len(group)
                for group in self.sensor_cells]
