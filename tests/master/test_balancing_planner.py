"""The balancing planner: thresholds with hysteresis, every constraint broken on purpose."""

import dataclasses

import numpy as np
import pytest

from bms.algorithm_settings import BalancingSettings
from dbc.frames import MasterState
from master.balancing_planner import BalancingPlanner, PlanInputs

CELLS = np.array([[3700.0, 3712.0, 3705.0, 3730.0], [3701.0, 3702.0, 3725.0, 3700.5]])
TEMPERATURES = np.array([25.0, 25.0])


def inputs(**changes: object) -> PlanInputs:
    base = PlanInputs(MasterState.STANDBY, 0.0, CELLS, TEMPERATURES, None, None)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def planner(**changes: object) -> BalancingPlanner:
    return BalancingPlanner(dataclasses.replace(BalancingSettings(), **changes), 2, 4,
                            floor_mv=3400.0)


def test_voltage_mode_bleeds_cells_above_lowest_plus_threshold() -> None:
    plan = planner().update(inputs())
    assert plan.masks == (0b1010, 0b0100)  # 3712 and 3730; 3725 (threshold 10 mV over 3700)
    assert plan.allowed
    assert plan.bleeding_cells == 3


def test_hysteresis_keeps_a_bleeding_cell_until_threshold_minus_hysteresis() -> None:
    p = planner()
    p.update(inputs())
    lower = CELLS.copy()
    lower[0, 1] = 3708.0  # below the 10 mV start, above the 7 mV stop: keeps bleeding
    lower[1, 1] = 3708.0  # was not bleeding: does not start
    assert p.update(inputs(cell_mv=lower)).masks == (0b1010, 0b0100)
    lower[0, 1] = 3706.0  # below 7 mV: stops
    assert p.update(inputs(cell_mv=lower)).masks == (0b1000, 0b0100)


def test_the_vcu_sets_the_threshold_or_switches_balancing_off() -> None:
    assert planner().update(inputs(vcu_threshold_mv=20.0)).masks == (0b1000, 0b0100)
    plan = planner().update(inputs(vcu_enabled=False))
    assert plan.masks == (0, 0)
    assert not plan.allowed
    assert plan.reason == "off by the VCU"


@pytest.mark.parametrize(("changes", "reason"), [
    ({"state": MasterState.ERROR}, "not in ERROR"),
    ({"state": MasterState.PRECHARGE}, "not in PRECHARGE"),
    ({"current_a": 12.0}, "pack current too high"),
    ({"current_a": None}, "pack current too high"),
])
def test_no_bleeding_in_forbidden_states_or_currents(changes: dict[str, object],
                                                      reason: str) -> None:
    plan = planner().update(inputs(**changes))
    assert (plan.masks, plan.allowed, plan.reason) == ((0, 0), False, reason)


def test_never_below_the_floor_never_in_a_hot_module() -> None:
    low = CELLS - 320.0  # [0, 1] is now 3392 mV, below the 3400 mV floor
    assert planner().update(inputs(cell_mv=low)).masks == (0b1000, 0b0100)
    hot = planner().update(inputs(module_max_temperature_degc=np.array([51.0, 25.0])))
    assert hot.masks == (0, 0b0100)


def test_at_most_k_cells_per_module_the_highest_first() -> None:
    assert planner(max_cells_per_module=1).update(inputs()).masks == (0b1000, 0b0100)


def test_an_incomplete_measurement_bleeds_nothing() -> None:
    missing = CELLS.copy()
    missing[1, 0] = np.nan
    plan = planner().update(inputs(cell_mv=missing))
    assert plan.masks == (0, 0)
    assert plan.reason == "no complete measurement"


def test_soc_mode_bleeds_charge_above_the_emptiest_cell() -> None:
    soc = np.array([[0.50, 0.52, 0.504, 0.60], [0.50, 0.51, 0.503, 0.50]])
    capacity = np.full((2, 4), 5.0)
    plan = planner(mode="soc", soc_threshold_pct=0.5).update(inputs(soc=soc,
                                                                    capacity_ah=capacity))
    assert plan.masks == (0b1010, 0b0010)  # 2 and 10 points and 1 point over; 0.4 is not
    assert planner(mode="soc").update(inputs()).masks == (0, 0)  # no estimate yet


def test_mode_off_and_bad_settings() -> None:
    assert planner(mode="off").update(inputs()).reason == "off in the configuration"
    with pytest.raises(ValueError, match="never in INIT or ERROR"):
        BalancingSettings(allowed_states=("STANDBY", "ERROR"))
    with pytest.raises(ValueError, match="must be one of off, voltage, soc"):
        BalancingSettings(mode="active")
