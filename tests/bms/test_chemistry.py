"""The OCV table: a guessed segment is taken only where it holds."""

import bisect
import random

from bms.chemistry import REFERENCE_CELLS
from bms.settings import Chemistry


def test_any_guess_gives_the_searched_segment_and_voltage() -> None:
    rng = random.Random(3)
    for chemistry in Chemistry:
        table = REFERENCE_CELLS[chemistry].ocv
        last = len(table.soc) - 2
        socs = [rng.uniform(-0.1, 1.15) for _ in range(3000)] + list(table.soc)
        for soc in socs:
            searched = min(max(bisect.bisect_right(table.soc, soc) - 1, 0), last)
            for guess in (-1, 0, searched - 1, searched, searched + 1, last, last + 1):
                assert table.segment(soc, guess) == searched, (chemistry, soc, guess)
            assert table.voltage(soc) == table.voltage_in(searched, soc)
    assert table.voltage(table.soc[3]) == table.voltage_v[3]  # on a point: that point
