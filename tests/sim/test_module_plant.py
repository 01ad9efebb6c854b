"""The module plant: reproducible spread, sensors, bleed resistors that drain and heat."""

import statistics

import pytest

from bms.settings import CellSimSettings, Chemistry
from sim.module_plant import ModulePlant


def plant(module_id: int = 0, seed: int = 1, **changes: float) -> ModulePlant:
    settings = CellSimSettings(seed=seed, **changes)  # type: ignore[arg-type]
    return ModulePlant(settings, Chemistry.NMC, module_id, cells=16, sensors=8)


def test_same_seed_same_pack_other_module_other_cells() -> None:
    a, b, c = plant(0), plant(0), plant(1)
    assert [x.soc for x in a.cells] == [x.soc for x in b.cells]
    assert [x.soc for x in a.cells] != [x.soc for x in c.cells]
    assert [x.soc for x in plant(0, seed=2).cells] != [x.soc for x in a.cells]


def test_spread_is_applied() -> None:
    cells = plant(initial_soc_spread_pct=5.0, capacity_spread_pct=3.0).cells
    assert statistics.stdev(c.soc for c in cells) > 0.01
    assert len({c.p.capacity_ah for c in cells}) == 16
    uniform = plant(initial_soc_spread_pct=0.0, capacity_spread_pct=0.0,
                    resistance_spread_pct=0.0).cells
    assert len({c.soc for c in uniform}) == 1
    assert len({c.p.capacity_ah for c in uniform}) == 1


def test_sensors_cover_all_cells() -> None:
    p = plant()
    assert len(p.sensor_cells) == 8
    assert sorted({i for group in p.sensor_cells for i in group}) == list(range(16))


def test_bleeding_drains_and_heats_only_the_selected_cell() -> None:
    p = plant(initial_soc_spread_pct=0.0, resistance_spread_pct=0.0, capacity_spread_pct=0.0)
    p.balancing_mask = 1 << 3
    bleed = p.bleed_currents()
    assert [b.cell for b in bleed] == [3]
    assert bleed[0].current_a == pytest.approx(p.cells[3].ocv_v() / 100.0)
    for _ in range(600):
        p.advance(1.0, 0.0)
    socs = [c.soc for c in p.cells]
    assert socs[3] < min(socs[:3] + socs[4:])
    temps = [c.temperature_degc for c in p.cells]
    assert temps[3] > max(temps[:3] + temps[4:])
    voltages = p.cell_voltages_v(0.0)
    assert voltages[3] < voltages[2]


def test_pack_current_moves_every_cell() -> None:
    p = plant()
    before = [c.soc for c in p.cells]
    p.advance(60.0, -10.0)
    assert all(c.soc < b for c, b in zip(p.cells, before, strict=True))


def test_active_balancing_moves_charge_to_the_module_with_its_losses() -> None:
    p = plant(initial_soc_spread_pct=0.0, resistance_spread_pct=0.0, capacity_spread_pct=0.0,
              self_discharge_pct_per_month=0.0, coulombic_efficiency=1.0,
              balancing="active", active_balancing_current_a=1.0,  # type: ignore[arg-type]
              active_balancing_efficiency=0.8)
    p.balancing_mask = 1 << 5
    before = [c.soc for c in p.cells]
    energy_before = sum(c.ocv_v() * c.soc for c in p.cells)
    for _ in range(300):
        p.advance(1.0, 0.0)
    after = [c.soc for c in p.cells]
    assert after[5] < before[5]  # the source cell loses charge ...
    assert all(a > b for i, (a, b) in enumerate(zip(after, before, strict=True)) if i != 5)
    taken = (before[5] - after[5]) * p.cells[5].p.capacity_ah  # ... the others gain it, less
    given = sum(a - b for i, (a, b) in enumerate(zip(after, before, strict=True))
                if i != 5) * p.cells[0].p.capacity_ah
    # the returned current reaches the source cell too: net it out of the balance
    returned_to_source = given / 15
    assert (given + returned_to_source) / (taken + returned_to_source) == \
        pytest.approx(0.8, rel=0.02)
    assert sum(c.ocv_v() * c.soc for c in p.cells) < energy_before  # losses


def test_passive_and_active_are_the_only_balancing_kinds() -> None:
    with pytest.raises(ValueError, match="passive or active"):
        plant(balancing="flyback")  # type: ignore[arg-type]
