"""Telemetry messages as rows: a real master's payloads read back, keys that a resend
repeats, what is not telemetry refused, the downsampling."""

from __future__ import annotations

import json

import msgpack
import pytest

from historian.rows import BadMessageError, Downsampler, Row, to_row
from tests.historian.telemetry import T0, pack_messages


def test_a_masters_messages_become_rows_with_their_keys() -> None:
    rows = [to_row(topic, payload) for topic, payload in pack_messages("p1", 3)]
    assert [r.table for r in rows if r] == ["online", *["state", "cells", "limits"] * 3,
                                            "events"]
    state = next(r for r in rows if r and r.table == "state")
    assert state.pack == "p1"
    assert state.t == T0
    assert state.values["state"] in ("STANDBY", "PRECHARGE", "NORMAL", "INIT")
    assert 0 < state.values["voltage_v"] < 200  # two modules of 16 cells
    cells = next(r for r in rows if r and r.table == "cells")
    volts = json.loads(cells.values["voltages_mv"])
    assert len(volts) == 32
    assert cells.values["cell_spread_mv"] == max(volts) - min(volts)
    event = rows[-1]
    assert event is not None
    assert event.key == ("events", "p1", 7)  # events by id, the others by t
    assert state.key == ("state", "p1", T0)


def test_other_topics_are_not_rows_and_bad_payloads_are_refused() -> None:
    assert to_row("bms/p1/command", b"x") is None
    assert to_row("bms/p1/command/result", b"x") is None
    assert to_row("other/p1/state", b"x") is None
    with pytest.raises(BadMessageError, match="not msgpack"):
        to_row("bms/p1/state", b"\xc1")
    with pytest.raises(BadMessageError, match="no time"):
        to_row("bms/p1/state", msgpack.packb({"v": 1, "t": "soon"}))
    with pytest.raises(BadMessageError, match="id"):
        to_row("bms/p1/events", msgpack.packb({"v": 1, "t": T0}))
    nan = to_row("bms/p1/state", msgpack.packb({"v": 1, "t": T0, "voltage_v": float("nan")}))
    assert nan is not None
    assert nan.values["voltage_v"] is None  # no NaN into the database


def test_downsampling_keeps_one_row_per_period_and_every_resend() -> None:
    keep = Downsampler({"cells": 60.0})
    cells = [Row("cells", "p1", T0 + s, {}) for s in range(0, 200, 10)]
    kept = [r.t - T0 for r in cells if keep.keep(r)]
    assert kept == [0, 60, 120, 180]
    assert keep.keep(Row("cells", "p1", T0 + 10, {}))  # from before: the database decides
    assert keep.keep(Row("cells", "p2", T0 + 190, {}))  # per pack
    assert all(keep.keep(Row("state", "p1", T0 + s, {})) for s in range(5))  # not sampled
