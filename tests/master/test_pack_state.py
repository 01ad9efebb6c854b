"""Pack figures from the latest valid, fresh values."""

import math
import random

import pytest

from master.pack_state import MeasurementTable, PackState


def test_summary_with_locations() -> None:
    pack = PackState(modules=2, cells_per_module=3, sensors_per_module=2)
    pack.cell_mv.update(0, 0, (3700, 3650, 3710), now_s=1.0)
    pack.cell_mv.update(1, 0, (3690, 3720, 3600, None), now_s=1.0)  # padding beyond cell 2
    pack.temperature_degc.update(1, 0, (24.0, 31.5), now_s=1.0)
    s = pack.summary(1.1, cell_max_age_s=0.25, temperature_max_age_s=1.0)
    assert (s.min_cell_mv.value, s.min_cell_mv.module_id, s.min_cell_mv.index) == (3600, 1, 2)
    assert (s.max_cell_mv.value, s.max_cell_mv.module_id, s.max_cell_mv.index) == (3720, 1, 1)
    assert s.avg_cell_mv == pytest.approx(sum((3700, 3650, 3710, 3690, 3720, 3600)) / 6)
    assert s.sum_of_cells_v == pytest.approx(22.07)
    assert (s.max_temperature_degc.value, s.max_temperature_degc.module_id) == (31.5, 1)
    assert s.cells_valid == s.cells_expected == 6


def test_invalid_and_stale_values_are_left_out() -> None:
    pack = PackState(modules=1, cells_per_module=3, sensors_per_module=1)
    pack.cell_mv.update(0, 0, (3700, None, 3600), now_s=0.0)
    pack.cell_mv.update(0, 0, (3700,), now_s=1.0)
    s = pack.summary(1.1, cell_max_age_s=0.25, temperature_max_age_s=1.0)
    assert s.cells_valid == 1
    assert s.sum_of_cells_v is None  # the sum is only meaningful with every cell
    assert s.min_temperature_degc is None


def test_empty_pack() -> None:
    s = PackState(1, 2, 1).summary(0.0, 0.25, 1.0)
    assert s.min_cell_mv is None
    assert s.avg_cell_mv is None
    assert s.cells_valid == 0


@pytest.mark.parametrize("seed", range(20))
def test_figures_agree_with_the_fresh_values(seed: int) -> None:
    """Row by row with the builtins gives what the element-by-element list gives, ties to
    the first location included."""
    rng = random.Random(seed)
    table = MeasurementTable(modules=5, per_module=6)
    for module in range(5):
        for index in range(6):
            if rng.random() < 0.9:
                table.update(module, index, (rng.choice((None, 3600, 3650, 3700, 3701)),),
                             now_s=rng.choice((0.0, 0.9, 1.0)))
    fresh = table.fresh(1.0, 0.5)
    figures = table.figures(1.0, 0.5)
    assert figures.count == len(fresh)
    assert figures.total == sum(v for _, _, v in fresh)
    low = min(fresh, key=lambda c: c[2], default=None)
    high = max(fresh, key=lambda c: c[2], default=None)
    assert (figures.low and (figures.low.module_id, figures.low.index, figures.low.value)) == \
        (low and (low[0], low[1], low[2]))
    assert (figures.high and (figures.high.module_id, figures.high.index, figures.high.value)) \
        == (high and (high[0], high[1], high[2]))


def test_the_sum_alone_is_the_summary_s() -> None:
    pack = PackState(modules=2, cells_per_module=2, sensors_per_module=1)
    pack.cell_mv.update(0, 0, (3700, 3650), now_s=1.0)
    assert pack.sum_of_cells_v(1.0, 0.25) is None  # module 1 never measured
    pack.cell_mv.update(1, 0, (3690, 3721), now_s=0.9)
    assert pack.sum_of_cells_v(1.0, 0.25) == pack.summary(1.0, 0.25, 1.0).sum_of_cells_v \
        == pytest.approx(14.761)
    assert pack.sum_of_cells_v(1.2, 0.25) is None  # module 1 is stale by then
    pack.cell_mv.update(1, 1, (None,), now_s=1.2)
    assert pack.sum_of_cells_v(1.2, 0.25) is None


def test_the_matrix_has_nan_where_a_value_is_invalid_or_too_old() -> None:
    table = MeasurementTable(modules=2, per_module=2)
    table.update(0, 0, (3700, None), now_s=1.0)
    table.update(1, 0, (3650, 3660), now_s=0.5)
    matrix = table.matrix(1.0, 0.25)
    assert matrix[0, 0] == 3700
    assert math.isnan(matrix[0, 1])  # invalid
    assert math.isnan(matrix[1, 0])  # too old
    assert math.isnan(matrix[1, 1])
    assert table.matrix(1.0, 1.0)[1, 1] == 3660  # another age limit
