"""`bms log convert LOG -o DIR.parquet`: every frame lands in its message's table with the
values `bms log decode` gives, typed by the DBC; bad frames keep their bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import can
import pytest

from bms.settings import load_settings
from dbc.codec import CanFrame
from replay.decoder import LogDecoder, RowFilter
from replay.logfile import read_log
from replay.logged import LoggedFrame
from replay.parquet import ParquetError, read_parquet, write_parquet
from tests.replay.logs import lockstep_log

pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "source.log"
    lockstep_log(path, load_settings(None, ["pack.modules=2"]), seconds=2.0)
    return path


def converted(frames: list[LoggedFrame], out: Path) -> dict[str, Any]:
    decoder = LogDecoder()
    write_parquet(decoder.rows(frames, RowFilter()), out, decoder)
    return read_parquet(out)


def test_every_frame_is_in_its_messages_table_with_the_decoded_values(
        source: Path, tmp_path: Path) -> None:
    frames = list(read_log(source))
    tables = converted(frames, tmp_path / "pack.parquet")
    rows = list(LogDecoder().rows(frames, RowFilter()))
    assert sum(t.num_rows for t in tables.values()) == len(frames)
    for name in ("CellVoltages", "MasterHeartbeat", "BmsLimits"):
        mine = [r for r in rows if r.message == name and r.problem is None]
        table = tables[name].to_pylist()
        assert len(table) == len(mine) > 0
        for row, stored in zip(mine, table, strict=True):
            assert stored["time_s"] == row.time_s
            assert (stored["bus"], stored["module"]) == (row.bus, row.module)
            if row.e2e is not None:
                assert f"{stored['e2e']}#{stored['e2e_counter']}" == row.e2e
            for signal in row.signals:
                assert stored[signal.name] == signal.value, (name, signal)
    # typed by the DBC: scaled signals are floats, value tables strings, plain ones ints
    limits = tables["BmsLimits"].schema
    state = tables["MasterHeartbeat"].schema
    assert str(limits.field("time_s").type) == "double"
    assert str(state.field("MasterState").type) == "string"
    assert {str(f.type) for f in limits} <= {"double", "int64", "string", "int16", "int8"}


def test_a_measurements_named_value_is_null_and_an_enumeration_a_name(tmp_path: Path) -> None:
    from dbc.codec import pack_codec
    from dbc.endpoint import FrameSender
    from dbc.frames import CellVoltages, MasterHeartbeat, MasterState

    sender = FrameSender(pack_codec())
    frames = [LoggedFrame(0.0, "pack", sender.encode(CellVoltages(0, (3700, None, 3702)), 2)),
              LoggedFrame(0.1, "pack", sender.encode(MasterHeartbeat(MasterState.NORMAL,
                                                                     False)))]
    tables = converted(frames, tmp_path / "named.parquet")
    cells = tables["CellVoltages"].to_pylist()[0]
    assert (cells["CellVoltage00"], cells["CellVoltage01"], cells["CellVoltage02"]) == \
        (3700, None, 3702)  # the invalid marker: null, the voltages stay numbers
    state = tables["MasterHeartbeat"].to_pylist()[0]
    assert state["MasterState"] == "Normal"  # the DBC's name for it


def test_frames_that_do_not_decode_keep_their_bytes_and_reason(tmp_path: Path) -> None:
    frames = [LoggedFrame(0.0, None, CanFrame(0x7AB, b"\x01\x02")),
              LoggedFrame(0.1, None, CanFrame(0x620, b"\x01\x02\x03")),
              LoggedFrame(0.2, "pack", CanFrame(0x40, bytes(8)), is_error_frame=True)]
    tables = converted(frames, tmp_path / "bad.parquet")
    undecoded = tables["_undecoded"].to_pylist()
    assert [r["data"] for r in undecoded] == [b"\x01\x02", b"\x01\x02\x03", bytes(8)]
    assert [r["problem"].split()[0] for r in undecoded] == ["unknown", "wrong", "error"]


def test_the_output_is_made_anew_and_never_over_something_else(tmp_path: Path) -> None:
    frames = [LoggedFrame(0.0, None, CanFrame(0x7AB, b"\x01"))]
    out = tmp_path / "again.parquet"
    converted(frames, out)
    converted(frames, out)  # a second conversion replaces the first
    assert [p.name for p in out.iterdir()] == ["_undecoded.parquet"]
    other = tmp_path / "precious.parquet"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ParquetError, match="choose another name"):
        converted(frames, other)
    assert (other / "notes.txt").exists()


def test_a_multiplexed_signal_is_null_on_the_other_pages(source: Path, tmp_path: Path) -> None:
    tables = converted(list(read_log(source)), tmp_path / "pack.parquet")
    cells = tables["CellVoltages"]
    names = cells.schema.names
    assert names[0] == "time_s"
    nulls = [cells.column(n).null_count for n in names
             if n not in ("time_s", "bus", "channel", "module", "e2e", "e2e_counter")]
    assert any(0 < n < cells.num_rows for n in nulls)


def test_a_candump_converted_through_the_cli(source: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bms.cli import main

    out = tmp_path / "cli.parquet"
    assert main(["log", "convert", str(source), "-o", str(out)]) == 0
    assert "frames into" in capsys.readouterr().out
    assert sum(t.num_rows for t in read_parquet(out).values()) == \
        sum(1 for _ in can.LogReader(str(source)))
