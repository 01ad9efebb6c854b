"""round_half_even is round(): ties to even, every float, the same errors."""

import math
import random

import pytest

from bms.rounding import round_half_even


def test_the_same_integer_as_round_for_every_kind_of_float() -> None:
    rng = random.Random(11)
    values = [rng.uniform(-1e6, 1e6) for _ in range(20000)]
    values += [k + 0.5 for k in range(-50, 50)]  # ties: to the even neighbour
    values += [k * 0.1 for k in range(-50000, 50000, 7)]  # the AFE's 0.1 mV steps
    values += [math.nextafter(k + 0.5, math.inf) for k in range(-20, 20)]
    values += [math.nextafter(k + 0.5, -math.inf) for k in range(-20, 20)]
    values += [0.0, -0.0, 2.0**52 + 1, -(2.0**53), 1e300, -1e300, 4.5, 5.5, -4.5]
    for value in values:
        assert round_half_even(value) == round(value), value
    assert round_half_even(3301) == 3301  # an int is taken as its float


@pytest.mark.parametrize(("value", "error"), [(math.inf, OverflowError),
                                              (-math.inf, OverflowError),
                                              (math.nan, ValueError)])
def test_the_same_errors_as_round(value: float, error: type[Exception]) -> None:
    with pytest.raises(error):
        round(value)
    with pytest.raises(error):
        round_half_even(value)
