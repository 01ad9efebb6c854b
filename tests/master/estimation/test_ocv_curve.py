"""The vectorised OCV curve agrees with the chemistry's table and inverts it."""

import numpy as np
import pytest

from bms.chemistry import LFP_OCV, NMC_OCV
from master.estimation.ocv_curve import OcvCurve


@pytest.mark.parametrize("table", [NMC_OCV, LFP_OCV], ids=["NMC", "LFP"])
def test_voltage_matches_the_table_and_inverts(table) -> None:  # type: ignore[no-untyped-def]
    curve = OcvCurve(table)
    soc = np.linspace(0.0, 1.0, 101)
    assert curve.voltage(soc) == pytest.approx([table.voltage(s) for s in soc])
    assert curve.soc_at(curve.voltage(soc)) == pytest.approx(soc, abs=1e-9)


def test_slope_is_the_derivative() -> None:
    curve = OcvCurve(NMC_OCV)
    soc = np.array([0.02, 0.33, 0.57, 0.93])
    numeric = (curve.voltage(soc + 1e-6) - curve.voltage(soc - 1e-6)) / 2e-6
    assert curve.slope(soc) == pytest.approx(numeric, rel=1e-6)


def test_energy_is_the_integral_of_the_ocv() -> None:
    curve = OcvCurve(NMC_OCV)
    full = float(curve.energy_wh_per_ah(np.array([1.0]))[0])
    grid = np.linspace(0, 1, 10001)
    assert full == pytest.approx(float(np.trapezoid(curve.voltage(grid), grid)), rel=1e-3)
    assert curve.energy_wh_per_ah(np.array([0.0]))[0] == 0.0
    assert np.all(np.diff(curve.energy_wh_per_ah(np.linspace(0, 1, 50))) > 0)


def test_a_reading_near_a_plateau_edge_is_not_steep() -> None:
    curve = OcvCurve(LFP_OCV)
    edge_v = 3.3164  # LFP: the plateau ends at 95 %, 57 mV per % above it
    readings = np.array([edge_v + 0.0006, edge_v + 0.017, 3.2688])
    steep = curve.steep_around(readings, 0.003, 0.2)
    # just above the edge: 3 mV lower is the plateau, the SOC could be anything from 90 %
    assert steep.tolist() == [False, True, False]
    assert curve.slope(curve.soc_at(readings[:1]))[0] >= 0.2  # the point alone looks steep


def test_a_reading_beyond_the_tables_ends_tells_no_soc() -> None:
    """A rested cell just charged reads above the table's top (a fitted table's ends are its
    least sure points): the inverse would clamp it to 100 %, so it resets nothing."""
    curve = OcvCurve(NMC_OCV)
    top, bottom = NMC_OCV.voltage_v[-1], NMC_OCV.voltage_v[0]
    readings = np.array([top + 0.004, top - 0.001, top - 0.010, bottom + 0.001, 3.7])
    assert curve.steep_around(readings, 0.003, 0.2).tolist() == [False, False, True, False,
                                                                  True]


def test_nansum_is_np_nansum_bit_for_bit() -> None:
    from master.estimation.pack_estimator import nansum

    rng = np.random.default_rng(3)
    for size in (1, 7, 128, 512, 1000):
        values = rng.normal(3.6, 0.3, size) * 10.0 ** rng.integers(-3, 4, size)
        values[rng.random(size) < 0.1] = np.nan
        assert nansum(values) == float(np.nansum(values))
    matrix = rng.normal(3600.0, 30.0, (32, 16))  # the master's cells: modules x cells
    matrix[3, 5] = np.nan
    assert nansum(matrix) == float(np.nansum(matrix))


def test_clip_is_np_clip_bit_for_bit() -> None:
    from master.estimation.ocv_curve import clip

    rng = np.random.default_rng(5)
    values = rng.normal(0.5, 0.6, 1000)
    values[::97] = np.nan
    assert np.array_equal(clip(values, -0.05, 1.1), np.clip(values, -0.05, 1.1), equal_nan=True)
    index = rng.integers(-3, 20, 100)
    clipped = clip(index, 0, 11)
    assert clipped.dtype == index.dtype
    assert np.array_equal(clipped, np.clip(index, 0, 11))


def test_the_ocv_shifts_with_temperature_between_and_beyond_the_tested_ones() -> None:
    from bms.chemistry import OcvShift

    grid = (0.0, 0.5, 1.0)
    shift = OcvShift((10.0, 25.0, 40.0), grid,
                     ((0.010, 0.020, 0.010), (0.0, 0.0, 0.0), (-0.010, -0.030, -0.010)))
    curve = OcvCurve(NMC_OCV, shift)
    soc = np.array([0.5, 0.5, 0.5, 0.5, 0.25, 0.5])
    t = np.array([10.0, 25.0, 32.5, 55.0, 10.0, -5.0])
    assert curve.shift_v(soc, t) == pytest.approx(
        [0.020, 0.0, -0.015, -0.060, 0.015, 0.040])
    # the inverse takes the shift off where the SOC is
    cold = np.full(3, 10.0)
    socs = np.array([0.3, 0.5, 0.7])
    measured = curve.voltage(socs) + curve.shift_v(socs, cold)
    assert curve.soc_at_temperature(measured, cold) == pytest.approx(socs, abs=2e-4)
    assert np.abs(curve.soc_at(measured) - socs).max() > 0.01  # so the test tells them apart
    plain = OcvCurve(NMC_OCV)
    assert not plain.shifts
    assert plain.shift_v(socs, cold) == pytest.approx([0.0] * 3)
