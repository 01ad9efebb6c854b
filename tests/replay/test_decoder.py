"""Decoding logs: every frame decoded or shown raw with the reason; E2E per frame; filters;
extra DBC files; the three output formats."""

import csv
import io
import json
from pathlib import Path

import pytest

from dbc.codec import CanFrame, pack_codec
from dbc.endpoint import FrameSender
from dbc.frames import CellVoltages, MasterHeartbeat, MasterState
from replay.decoder import LogDecoder, RowFilter, parse_ids
from replay.formats import write_csv, write_jsonl, write_table
from replay.logged import LoggedFrame

EXTRA_DBC = '''VERSION ""
NS_ :
BS_:
BU_: Engine
BO_ 2566843904 EngineTemperature: 8 Engine
 SG_ CoolantTemperature : 0|8@1+ (1,-40) [-40|210] "degC" Vector__XXX
'''


def frames() -> list[LoggedFrame]:
    sender = FrameSender(pack_codec())
    good = sender.encode(CellVoltages(0, (3700, 3701, None, 3703)), 2)
    again = sender.encode(CellVoltages(0, (3700, 3701, 3702, 3703)), 2)
    return [
        LoggedFrame(0.0, "pack", good),
        LoggedFrame(0.1, "pack", good),  # the same counter again
        LoggedFrame(0.2, "pack", CanFrame(good.arbitration_id, bytes([good.data[0] ^ 1])
                                          + good.data[1:])),  # a bad CRC
        LoggedFrame(0.3, "pack", again),
        LoggedFrame(0.4, None, CanFrame(0x7AB, b"\x01\x02")),  # nobody's
        LoggedFrame(0.5, None, CanFrame(0x620, b"\x01\x02\x03")),  # too short
        LoggedFrame(0.6, None, CanFrame(0x620, bytes([0, 0xF0, 0, 0, 0, 0, 0, 0]))),  # group 15
        LoggedFrame(0.7, "pack", CanFrame(0x40, bytes(8)), is_error_frame=True),
        LoggedFrame(0.8, None, sender.encode(MasterHeartbeat(MasterState.NORMAL, False))),
        LoggedFrame(0.9, None, CanFrame(0x18FEEE00, bytes.fromhex("7800000000000000"), True)),
    ]


def test_every_frame_gets_a_row_and_bad_ones_a_reason() -> None:
    rows = list(LogDecoder().rows(frames(), RowFilter()))
    assert len(rows) == len(frames())
    assert [r.e2e.split("#")[0] if r.e2e else None for r in rows[:4]] == \
        ["initial", "repeated", "error", "ok"]
    assert rows[0].message == "CellVoltages"
    assert rows[0].module == 2
    signals = {s.name: (s.value, s.unit) for s in rows[0].signals}
    assert signals["CellVoltage00"] == (3700, "mV")
    assert signals["CellVoltage02"] == ("Invalid", "mV")  # the DBC's value table
    assert [r.problem for r in rows[4:8]] == [
        "unknown id", "wrong length 3, the DBC says 8",
        rows[6].problem, "error frame"]
    assert rows[6].problem is not None
    assert rows[6].problem.startswith("malformed")
    heartbeat = {s.name: s.value for s in rows[8].signals}
    assert heartbeat["MasterState"] == "Normal"
    assert rows[9].problem == "unknown id"  # an engine's frame: no project DBC has it


def test_an_extra_dbc_decodes_foreign_frames(tmp_path: Path) -> None:
    extra = tmp_path / "engine.dbc"
    extra.write_text(EXTRA_DBC)
    rows = list(LogDecoder([extra]).rows(frames()[9:], RowFilter()))
    assert rows[0].bus == "engine"
    assert [(s.name, s.value, s.unit) for s in rows[0].signals] == \
        [("CoolantTemperature", 80, "degC")]


@pytest.mark.parametrize(
    ("row_filter", "times"),
    [
        (RowFilter(ids=parse_ids(["0x620-0x63F"])), [0.0, 0.1, 0.2, 0.3, 0.5, 0.6]),
        (RowFilter(ids=parse_ids(["0x020"])), [0.8]),
        (RowFilter(modules={2}), [0.0, 0.1, 0.2, 0.3]),
        # frames E2E rejects are still shown, flagged: what a debugger wants to see
        (RowFilter(signal_patterns=["CellVoltage01"]), [0.0, 0.1, 0.2, 0.3]),
        (RowFilter(signal_patterns=["MasterHeartbeat.*"]), [0.8]),
        (RowFilter(start_s=0.25, end_s=0.55), [0.3, 0.4, 0.5]),
    ],
)
def test_filters(row_filter: RowFilter, times: list[float]) -> None:
    assert [r.time_s for r in LogDecoder().rows(frames(), row_filter)] == times


def test_signal_filter_keeps_only_matching_signals() -> None:
    row = next(LogDecoder().rows(frames(), RowFilter(signal_patterns=["CellVoltage0[01]"])))
    assert [s.name for s in row.signals] == ["CellVoltage00", "CellVoltage01"]


def test_bad_id_filter() -> None:
    with pytest.raises(ValueError, match="expected a number or a range"):
        parse_ids(["0x62G"])


def test_output_formats_parse_back() -> None:
    rows = list(LogDecoder().rows(frames(), RowFilter()))
    table = io.StringIO()
    assert write_table(rows, table) == len(rows)
    assert "CellVoltages[2]" in table.getvalue()
    assert "unknown id  [01 02]" in table.getvalue()
    text = io.StringIO()
    write_csv(rows, text)
    parsed = list(csv.DictReader(io.StringIO(text.getvalue())))
    cell = next(r for r in parsed if r["signal"] == "CellVoltage00")
    assert (cell["message"], cell["module"], cell["value"], cell["unit"]) == \
        ("CellVoltages", "2", "3700", "mV")
    lines = io.StringIO()
    write_jsonl(rows, lines)
    objects = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert len(objects) == len(rows)
    assert objects[0]["signals"]["CellVoltage00"] == {"value": 3700, "unit": "mV"}
