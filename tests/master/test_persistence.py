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
    truth = np.array([c.soc for a in fresh.afes for c in a.plant.cells])
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
    frame = freeze_frame(pack.master.report(pack.now_s))
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


def tripped_by_deep_discharge() -> LockstepPack:
    from dbc.sim_frames import CellQuantity, InjectCell

    p = LockstepPack(load_settings(None, ["pack.modules=2"]))
    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    p.inject(InjectCell(0, 15, CellQuantity.VOLTAGE, 1900.0, duration_s=1.0))
    p.run_until(lambda: p.master.state is MasterState.ERROR, 3.0)
    list(p.run(2.0))  # the forced reading is over; deep discharge stays latched
    return p


def test_a_restart_is_not_a_reset(tmp_path: Path) -> None:
    """A kill -9 and restart went INIT -> PRECHARGE -> NORMAL after a deep-discharge latch,
    without a service reset: the safety state is now stored and restored."""
    from dbc.sim_frames import VcuCommand
    from master.diagnosis.table import DiagId
    from master.persistence import SAFETY_KEY, safety_record

    old = tripped_by_deep_discharge()
    record = safety_record(old.master)
    assert record["error"] is True
    assert record["cause"] == "CELL_UNDERVOLTAGE_MSL"  # the first to trip
    assert [r[0] for r in record["latched"]] == ["DEEP_DISCHARGE"]
    store = Store.open(tmp_path / "s.sqlite")
    store.save_state({SAFETY_KEY: record})

    fresh = LockstepPack(load_settings(None, ["pack.modules=2"]))  # its cells are healthy
    notes = restore(fresh.master, store, 0.0)
    assert any("ERROR restored" in n for n in notes)
    list(fresh.run(5.0))  # the VCU asks to drive: nothing closes
    assert fresh.master.state is MasterState.ERROR
    assert not fresh.box.contactors.main_plus
    fresh.inject(VcuCommand(reset_faults=True))  # a fault reset alone: refused, as before
    list(fresh.run(1.0))
    assert fresh.master.state is MasterState.ERROR
    assert fresh.master.engine.latched()[0][0] is DiagId.DEEP_DISCHARGE
    fresh.inject(VcuCommand(service_reset=True))  # the same resets as before the restart
    list(fresh.run(1.0))
    assert fresh.master.engine.latched() == []
    fresh.inject(VcuCommand(reset_faults=True))
    fresh.run_until(lambda: fresh.master.state is MasterState.NORMAL, 10.0)


def test_without_the_record_the_same_restart_closes(tmp_path: Path) -> None:
    """The control for the test above: a fresh master with no safety record closes."""
    fresh = LockstepPack(load_settings(None, ["pack.modules=2"]))
    restore(fresh.master, Store.open(tmp_path / "empty.sqlite"), 0.0)
    fresh.run_until(lambda: fresh.master.state is MasterState.NORMAL, 10.0)


def test_an_unreadable_safety_record_starts_in_error(tmp_path: Path) -> None:
    from master.persistence import SAFETY_KEY

    store = Store.open(tmp_path / "s.sqlite")
    store.save_state({SAFETY_KEY: {"error": False, "latched": [["NO_SUCH_ENTRY", 0, 1]]}})
    fresh = LockstepPack(load_settings(None, ["pack.modules=2"]))
    notes = restore(fresh.master, store, 0.0)
    assert any("unreadable" in n for n in notes)
    list(fresh.run(3.0))
    assert fresh.master.state is MasterState.ERROR


def test_the_calibration_schedule_and_the_current_gain_survive_a_restart(
        tmp_path: Path) -> None:
    """The last full point was 3 days before the snapshot, the master was off for 2: the
    next calibration charge (every 7 days) is due 2 days after the restart, not 7."""
    from master.estimation.drift import SECONDS_PER_DAY

    overrides = [*SMALL, "drift.calibration_interval_days=7"]
    old = LockstepPack(load_settings(None, overrides))
    list(old.run(5.0))
    drift = old.master.algorithms.drift
    drift.last_full_s = old.now_s - 3 * SECONDS_PER_DAY
    drift.gain.gain = 1.01
    store = Store.open(tmp_path / "s.sqlite")
    store.save_state(snapshot(old.master), wall_time=1000.0)
    store.close()
    fresh = LockstepPack(load_settings(None, overrides))
    notes = restore(fresh.master, Store.open(tmp_path / "s.sqlite"), now_s=0.0,
                    wall_s=1000.0 + 2 * SECONDS_PER_DAY)
    assert any("last full point 5.00 days ago" in n for n in notes)
    restored = fresh.master.algorithms.drift
    assert restored.last_full_s == pytest.approx(-5 * SECONDS_PER_DAY, abs=1.0)
    assert restored.gain.gain == pytest.approx(1.01)
    assert restored.calibrating_since_s is None
