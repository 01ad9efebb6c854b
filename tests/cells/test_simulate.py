"""`cells.simulate` without PyBaMM: what a record writes."""

from __future__ import annotations

import csv
from pathlib import Path

from cells.fit import read_test
from cells.simulate import Record


def test_a_record_never_writes_one_instant_twice(tmp_path: Path) -> None:
    """PyBaMM may stop a step at an event a few ms after a sample: at the 0.1 s written,
    that would be two rows of one time, which a fit refuses."""
    record = Record([0.0, 1.0, 1.04, 2.0], [0.0, -1.0, -1.0, 0.0], [3.7, 3.6, 3.59, 3.65],
                    [25.0] * 4, [0, 1, 1, 2], [0.5, 0.49, 0.49, 0.49])
    path = tmp_path / "test.csv"
    record.write(path)
    with path.open() as f:
        times = [row["time_s"] for row in csv.DictReader(f)]
    assert times == ["0.0", "1.0", "2.0"]
    assert list(read_test(path).time_s) == [0.0, 1.0, 2.0]
