"""Power limits: the most restrictive limiter wins and is named; soft derating keeps the
limp-home floor; limits rise on a ramp and fall at once; nothing in ERROR."""

import dataclasses

import numpy as np
import pytest

from bms.algorithm_settings import PowerLimitSettings
from bms.settings import Settings
from dbc.vehicle_frames import Limiter
from master.diagnosis.limits import resolve_limits
from master.estimation.power_limits import LimitInputs, PowerLimiter

SETTINGS = Settings()  # NMC 5 Ah: 30 A discharge, 10 A charge at the operating limits
LIMITS = resolve_limits(SETTINGS)
NOMINAL = LimitInputs(25.0, 25.0, 0.5, 0.5, 3700.0, 3750.0, np.full(4, 3.72),
                      np.full(4, 0.023), 59.6, True)


def settled(inputs: LimitInputs, **changes: float) -> PowerLimiter:
    limiter = PowerLimiter(dataclasses.replace(PowerLimitSettings(), **changes), LIMITS, 5.0,
                           0.0)
    limiter.update(1000.0, inputs)  # long after start: no ramp left
    return limiter


def test_nominal_conditions_allow_the_maximum() -> None:
    limits = settled(NOMINAL).current
    assert (limits.charge_a, limits.discharge_a) == (10.0, 30.0)
    assert (limits.charge_limiter, limits.discharge_limiter) == (Limiter.MAXIMUM,) * 2
    assert limits.discharge_w == pytest.approx(30.0 * 59.6)


def test_heat_derates_charge_first() -> None:
    hot = dataclasses.replace(NOMINAL, max_temperature_degc=37.5)  # 2.5 degC before 40
    limits = settled(hot).current
    assert limits.charge_a == pytest.approx(2.5)
    assert limits.charge_limiter is Limiter.TEMPERATURE
    assert limits.discharge_limiter is Limiter.MAXIMUM  # discharge is fine until 40 degC


def test_a_full_pack_takes_little_charge_an_empty_one_gives_little() -> None:
    full = settled(dataclasses.replace(NOMINAL, soc_max=0.95)).current
    assert full.charge_a == pytest.approx(10.0 * 0.3)
    assert full.charge_limiter is Limiter.SOC
    empty = settled(dataclasses.replace(NOMINAL, soc_min=0.07)).current
    assert empty.discharge_limiter is Limiter.SOC
    assert empty.discharge_a == pytest.approx(30.0 * (0.2 + 0.3 * 2 / 5))


def test_limp_home_floor_under_soft_derating_only() -> None:
    cold = dataclasses.replace(NOMINAL, min_temperature_degc=-10.0)  # the discharge limit
    limits = settled(cold).current
    assert limits.discharge_a == pytest.approx(0.1 * 5.0)
    assert limits.discharge_limiter is Limiter.LIMP_HOME
    # a cell at its voltage limit is a hard limit: no floor
    empty = dataclasses.replace(cold, min_cell_mv=3000.0)
    assert settled(empty).current.discharge_a == 0.0
    assert settled(empty).current.discharge_limiter is Limiter.CELL_VOLTAGE


def test_voltage_window_and_resistance() -> None:
    near_full = dataclasses.replace(NOMINAL, max_cell_mv=4100.0)  # 50 of the 100 mV window
    limits = settled(near_full).current
    assert limits.charge_a == pytest.approx(5.0)
    assert limits.charge_limiter is Limiter.CELL_VOLTAGE
    weak = dataclasses.replace(NOMINAL, cell_r0_ohm=np.array([0.023, 0.023, 0.1, 0.023]))
    limits = settled(weak).current
    assert limits.discharge_a == pytest.approx((3.72 - 3.0) / 0.1)
    assert limits.discharge_limiter is Limiter.RESISTANCE


def test_ramps_up_and_drops_at_once() -> None:
    limiter = PowerLimiter(PowerLimitSettings(), LIMITS, 5.0, 0.0)
    limits = limiter.update(1.0, NOMINAL)  # 1 s after start at 1 C/s
    assert (limits.charge_a, limits.charge_limiter) == (5.0, Limiter.RAMP)
    limiter.update(10.0, NOMINAL)
    hot = limiter.update(10.1, dataclasses.replace(NOMINAL, max_temperature_degc=39.0))
    assert hot.charge_a == pytest.approx(1.0)  # fell at once


def test_nothing_in_error() -> None:
    limits = settled(dataclasses.replace(NOMINAL, allowed=False)).current
    assert (limits.charge_a, limits.discharge_a) == (0.0, 0.0)
    assert limits.charge_limiter is Limiter.STATE


def test_configured_tables_are_checked() -> None:
    with pytest.raises(ValueError, match="one factor per"):
        PowerLimitSettings(temperature_points_degc=(0.0, 10.0),
                           charge_temperature_factors=(1.0,),
                           discharge_temperature_factors=(1.0, 1.0))
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        PowerLimitSettings(charge_soc_factors=(1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 0.1))


@pytest.mark.parametrize(("xs", "ys"), [
    ((-20.0, -10.0, 45.0, 55.0), (0.0, 1.0, 1.0, 0.0)),  # a temperature table
    ((0, 10, 80, 95, 100), (1, 1, 1, 0.5, 0)),  # SOC points as ints
    ((0.0, 1.0), (3.0, 3.0)),  # flat
    ((5.0,), (0.7,)),  # one point
])
def test_the_table_lookup_is_np_interp_bit_for_bit(xs: tuple[float, ...],
                                                   ys: tuple[float, ...]) -> None:
    from master.estimation.power_limits import _interp

    rng = np.random.default_rng(7)
    span = max(xs) - min(xs) + 10.0
    values = [*rng.uniform(min(xs) - span, max(xs) + span, 20_000), *xs, float("nan"),
              float("inf"), float("-inf"), *(np.nextafter(x, np.inf) for x in xs)]
    for x in values:
        expected = float(np.interp(x, xs, ys))
        got = _interp(float(x), xs, ys)
        assert got == expected or (np.isnan(got) and np.isnan(expected)), x


def test_a_power_tests_currents_replace_headroom_over_resistance() -> None:
    """With a cell file's power test the resistance limiter asks it for each cell's current
    (the weakest cell's wins); an unknown answer (NaN) allows nothing, not everything."""
    asked: list[bool] = []

    def currents(headroom_v: np.ndarray, charge: bool) -> np.ndarray:
        asked.append(charge)
        return np.array([4.0, 7.0, 2.5, 9.0]) if charge else np.array([20.0, 12.0, 25.0, 30.0])

    limits = settled(dataclasses.replace(NOMINAL, cell_current_a=currents)).current
    assert sorted(asked) == [False, True]
    assert (limits.charge_a, limits.charge_limiter) == (2.5, Limiter.RESISTANCE)
    assert (limits.discharge_a, limits.discharge_limiter) == (12.0, Limiter.RESISTANCE)
    unknown = dataclasses.replace(NOMINAL, cell_current_a=lambda h, c: np.full(4, np.nan))
    limits = settled(unknown).current
    assert (limits.charge_a, limits.discharge_a) == (0.0, 0.0)
