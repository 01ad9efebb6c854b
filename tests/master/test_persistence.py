"""What the master keeps across a restart: estimator state, counters, contactor closings;
the stored SOC is checked against the OCV before it is trusted."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bms.settings import load_settings
from dbc.frames import MasterState
from master.persistence import freeze_frame, restore, snapshot
from master.store import Store
from sim.lockstep import LockstepPack

SMALL = ["pack.modules=2", "pack.cells_per_module=4", "pack.temperature_sensors_per_module=2",
         "sim.vcu.start_delay_s=0.5"]


def driven_pack(seconds: float) -> LockstepPack:
    pack = LockstepPack(load_settings(None, SMALL))
    list(pack.run(seconds))
    return pack


def save(pack: LockstepPack, path: Path, **changes: object) -> dict:
    values = snapshot(pack.master)
    values["estimator"].update(changes)
    store = Store.open(path)
    store.save_state(values)
    store.close()
    return values


def test_a_restart_restores_soc_health_counters_and_closings(tmp_path: Path) -> None:
    old = driven_pack(60.0)  # it drove a minute: SOC lower than a fresh pack's
    assert old.master.contactor_closings == [1, 1, 1]
    saved = save(old, tmp_path / "s.sqlite")
    fresh = LockstepPack(load_settings(None, [*SMALL, "sim.vcu.request=standby"]))
    notes = restore(fresh.master, Store.open(tmp_path / "s.sqlite"))
    assert any("estimator state restored (8 cells)" in n for n in notes)
    estimator = fresh.master.algorithms.estimator
    fresh.run_until(lambda: estimator.filter.initialised, 2.0)
    # the first measurement, at rest: the stored SOC is 3 points from the OCV's (this plant
    # is fresh), within the 10 point tolerance: the filter starts from it
    assert estimator.filter.soc == pytest.approx(saved["estimator"]["soc"], abs=1e-9)
    assert list(estimator.health.capacity_ah) == saved["estimator"]["capacity_ah"]
    assert list(estimator.health.r0_ohm) == saved["estimator"]["r0_ohm"]
    assert estimator.counters.discharged_ah == pytest.approx(saved["counters"]["discharged_ah"])
    assert estimator.counters.discharged_ah > 0
    assert fresh.master.contactor_closings == [1, 1, 1]


def test_an_implausible_stored_soc_gives_way_to_the_ocv(tmp_path: Path) -> None:
    old = driven_pack(5.0)
    wrong = [s + 0.3 for s in snapshot(old.master)["estimator"]["soc"]]
    save(old, tmp_path / "s.sqlite", soc=wrong)
    fresh = LockstepPack(load_settings(None, [*SMALL, "sim.vcu.request=standby"]))
    restore(fresh.master, Store.open(tmp_path / "s.sqlite"))
    list(fresh.run(1.0))
    truth = np.array([c.soc for s in fresh.slaves for c in s.afe.plant.cells])  # type: ignore[attr-defined]
    assert np.abs(fresh.master.algorithms.estimator.filter.soc - truth).max() < 0.03
    journal = [e.describe() for e in fresh.master.statistics.events]
    assert sum("implausible" in text and "OCV used" in text for text in journal) == 8


def test_a_store_for_another_pack_is_not_applied(tmp_path: Path) -> None:
    save(driven_pack(2.0), tmp_path / "s.sqlite")
    other = LockstepPack(load_settings(None, [*SMALL[:1], "pack.cells_per_module=6",
                                              "pack.temperature_sensors_per_module=2"]))
    notes = restore(other.master, Store.open(tmp_path / "s.sqlite"))
    assert any("is for 8 cells, not 12: ignored" in n for n in notes)


def test_freeze_frame_holds_the_pack_at_that_moment() -> None:
    pack = driven_pack(10.0)
    assert pack.master.state is MasterState.NORMAL
    frame = freeze_frame(pack.master, pack.now_s)
    assert frame["state"] == "NORMAL"
    assert frame["min_cell_mv"][0] <= frame["max_cell_mv"][0]
    assert 0 < frame["soc_min_pct"] <= frame["soc_max_pct"] < 100
    assert dataclasses.is_dataclass(pack.master.algorithms.limits)


def test_the_master_opens_its_store_with_the_configured_bound(tmp_path: Path) -> None:
    from master.core import MasterCore
    from master.service import open_store

    settings = load_settings(None, [*SMALL, f"master.store_path={tmp_path / 's.sqlite'}",
                                    "master.store_max_events=50"])
    writer = open_store(MasterCore(settings, 0.0))
    assert writer is not None
    try:
        assert writer.store.max_events == 50
    finally:
        writer.close()
    assert load_settings(None, SMALL).master.store_max_events == 100_000
