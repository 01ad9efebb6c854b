"""Against SOC drift in the whole virtual pack (lockstep): a scheduled calibration charge
corrects an estimator 15 points off through the inverter's charge voltage limit, and full
cycles learn the current sensor's gain error (bounded)."""

from __future__ import annotations

import numpy as np
import pytest

from bms.settings import load_settings
from master.estimation.pack_estimator import EstimatorState
from master.events import EstimationEvent
from sim.lockstep import LockstepPack

# a 48 V storage pack: 16 LFP cells of 100 Ah, an inverter on the CAN-BMS protocol
STORAGE = ["pack.chemistry=LFP", "pack.modules=1", "pack.cells_per_module=16",
           "pack.temperature_sensors_per_module=4", "pack.cell_capacity_ah=100",
           "endpoints.vcu=false", "endpoints.request_without_vcu=drive",
           "endpoints.inverter=can_bms"]
# hours of virtual time: every node at 0.5 s (the estimator corrects once a second anyway)
COARSE = ["master.tick_period_s=0.5", "sim.current_sensor.current_period_s=0.5",
          "slave.measurement_period_s=0.5", "slave.status_period_s=1",
          "master.status_period_s=1", "master.slave_stale_timeout_s=2",
          "master.slave_lost_timeout_s=5", "master.current_timeout_s=2",
          "master.temperature_stale_timeout_s=5"]
EVERYDAY_V = 16 * 3.45  # power_limits.charge_cell_voltage_mv = 3450
CALIBRATION_V = 16 * 3.55  # the LFP operating over-voltage limit


def storage_pack(*overrides: str) -> LockstepPack:
    return LockstepPack(load_settings(None, [*STORAGE, *COARSE, *overrides]))


def truth(p: LockstepPack) -> np.ndarray:
    return np.array([c.soc for afe in p.afes for c in afe.plant.cells])


def usable(soc: np.ndarray) -> float:
    soc = np.clip(soc, 0.0, 1.0)
    return float(soc.min() / (soc.min() + 1.0 - soc.max()))


def estimation_events(p: LockstepPack) -> list[EstimationEvent]:
    return [e for e in p.master.statistics.events if isinstance(e, EstimationEvent)]


@pytest.mark.parametrize("offset", [-0.15, 0.15])
def test_a_calibration_charge_corrects_an_estimator_15_points_off(offset: float) -> None:
    """The cells at 60 % on the LFP plateau, where the OCV says nothing; the estimator
    restored 15 points off. The inverter charges at 0.5 C; the everyday charge stops at
    3450 mV, the calibration charge (due 173 s after the start) goes on to 3550 mV, the
    full point sets the SOC, and the charge voltage limit comes back."""
    p = storage_pack("sim.cells.initial_soc_pct=60", "power_limits.charge_cell_voltage_mv=3450",
                     "drift.calibration_interval_days=0.002",
                     "sim.inverter.profile=[{duration_s=100000.0,current_c=0.5}]")
    estimator = p.master.algorithms.estimator
    estimator.restore(EstimatorState(list(truth(p) + offset), list(estimator.health.capacity_ah),
                                     list(estimator.health.r0_ohm)))
    seen: list[tuple[float, float]] = []  # (time, charge voltage limit the inverter got)
    ended_s, error_at_start = None, None
    while ended_s is None or p.now_s < ended_s + 60.0:
        p.step()
        if error_at_start is None and estimation_events(p):  # the calibration has started
            error_at_start = float(np.mean(estimator.filter.soc - truth(p)))
        limits = p.inverter.limits if p.inverter is not None else None
        if limits is not None and (not seen or seen[-1][1] != limits.charge_voltage_v):
            seen.append((p.now_s, limits.charge_voltage_v))
        if ended_s is None and any(e.entry == "calibration_ended"
                                   for e in estimation_events(p)):
            ended_s = p.now_s
        assert p.now_s < 20_000, "no full point"
    started, full, ended = (next(e for e in estimation_events(p) if e.entry == entry)
                            for entry in ("calibration_started", "full_point",
                                          "calibration_ended"))
    assert started.time_s == pytest.approx(173.0, abs=1.0)
    assert (started.old, started.new) == (pytest.approx(EVERYDAY_V), pytest.approx(CALIBRATION_V))
    assert ended.time_s == full.time_s
    # what the inverter was told: everyday, raised for the calibration, back after it
    assert [round(v, 2) for _, v in seen] == [EVERYDAY_V, CALIBRATION_V, EVERYDAY_V]
    assert seen[1][0] == pytest.approx(started.time_s, abs=2.0)
    assert seen[2][0] == pytest.approx(ended.time_s, abs=2.0)
    assert p.master.report(p.now_s).limits.voltage_max_v == pytest.approx(EVERYDAY_V)
    # the published SOC is right again, and the full cell's own
    report = p.master.report(p.now_s)
    assert report.estimate is not None
    assert error_at_start is not None
    assert abs(error_at_start) > 0.08  # still 10 to 12 points off when the calibration started
    assert report.estimate.soc_usable == pytest.approx(usable(truth(p)), abs=0.02)
    fullest = int(np.argmax(truth(p)))
    assert estimator.filter.soc[fullest] == pytest.approx(truth(p)[fullest], abs=0.01)


GAIN_CYCLE = ("sim.inverter.profile=[{duration_s=300.0,current_c=0.5},"
              "{duration_s=3300.0,current_c=-1.0},{duration_s=900.0,current_c=0.0},"
              "{duration_s=100000.0,current_c=1.0}]")


def gain_pack(error_pct: float) -> LockstepPack:
    """A full cycle: full at 99 %, 1 C down to about 10 %, a rest of 15 min (the OCV there
    is steep), 1 C up to full. The cells' capacity as the estimator knows it (no spread):
    the gain is measured against it."""
    return storage_pack("sim.cells.initial_soc_pct=95", "sim.cells.capacity_spread_pct=0",
                        f"sim.current_sensor.gain_error_pct={error_pct}", GAIN_CYCLE)


def gain_events(p: LockstepPack) -> list[EstimationEvent]:
    return [e for e in estimation_events(p) if e.entry == "current_gain"]


def run_until_gains(p: LockstepPack, count: int) -> list[EstimationEvent]:
    p.run_until(lambda: len(gain_events(p)) >= count, 12_000.0)
    return gain_events(p)


def test_full_cycles_recover_a_1_percent_sensor_gain_error() -> None:
    p = gain_pack(1.0)
    down, up = run_until_gains(p, 2)  # full point -> rest at 10 %, then rest -> full point
    assert down.old == 0.0
    assert down.new == pytest.approx(1.0, abs=0.25)
    assert up.new == pytest.approx(1.0, abs=0.15)  # learnt: the charge half confirms it
    assert p.master.algorithms.drift.gain.gain == pytest.approx(1.01, abs=0.0015)
    assert "clamped" not in down.text + up.text
    # the estimator now counts the true current
    assert p.master.algorithms.drift.gain.corrected(101.0) == pytest.approx(100.0, abs=0.15)


def test_a_5_percent_gain_error_is_clamped_at_the_bound_and_logged() -> None:
    p = gain_pack(5.0)
    [down] = run_until_gains(p, 1)
    assert down.new == pytest.approx(2.0)  # drift.gain_max_pct
    assert "clamped at the bound from +5." in down.text
    assert p.master.algorithms.drift.gain.gain == pytest.approx(1.02)
    stored = [e for e in p.master.statistics.events if e is down]
    assert stored  # in the journal the store and MQTT take
