"""A CAN log's decoded signals as Parquet: one table per message, typed columns.

`bms log convert LOG -o DIR.parquet` writes, into the directory ``DIR.parquet``, a file per
message (``CellVoltages.parquet``, ``BmsLimits.parquet``, ...) with the columns

- ``time_s`` (float64, from the log's first frame), ``bus`` and ``channel`` (string),
  ``module`` (int16, null where the message is not per module), ``e2e`` (the check's result
  as a receiver would see it: ``ok``, ``crc``, ``counter``...; null where not protected)
  and ``e2e_counter`` (int8), then
- one column per signal of the message as the DBC defines it: int64 for an unscaled
  integer signal, float64 for a scaled or floating one, string for an enumeration (a value
  table on a signal without a unit: its name, or the number where the table has none). A
  measurement with named special values (a unit and a value table: a cell voltage's
  ``invalid``) stays numeric, null where a named value was sent, and where the table names
  more than one value a ``SIGNAL_label`` string column says which. A multiplexed signal is
  null in the frames of the other pages.

Frames that do not decode (unknown ids, wrong lengths, error frames) go to
``_undecoded.parquet`` with their raw bytes and the reason: nothing is lost. Files are
written in row groups as the log is read (memory stays bounded), zstd-compressed.
Needs pyarrow (``pip install -e '.[logs]'``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bms.errors import BmsError
from dbc.codec.layout import MessageLayout
from dbc.e2e import E2E_COUNTER_SIGNAL, E2E_CRC_SIGNAL
from replay.decoder import DecodedRow, LogDecoder

ROW_GROUP_ROWS = 100_000
UNDECODED = "_undecoded"
FRAME_COLUMNS = ("time_s", "bus", "channel", "module", "e2e", "e2e_counter")


class ParquetError(BmsError):
    """pyarrow is missing, or the output cannot be written."""


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ParquetError("Parquet needs pyarrow: pip install -e '.[logs]' (or pip install "
                           "pyarrow)") from exc
    return pa, pq


LABEL_SUFFIX = "_label"


def signal_columns(pa: Any, layout: MessageLayout, signal: Any
                   ) -> list[tuple[str, Any, Callable[[Any], Any]]]:
    """The columns of one signal: (name, type, the decoded value -> the column's value)."""
    named = layout.choices(signal.name)
    if named and not signal.unit:  # an enumeration
        return [(signal.name, pa.string(), str)]
    number: Callable[[Any], Any] = float
    kind = pa.float64()
    if not signal.is_float and signal.scale == int(signal.scale) and \
            signal.offset == int(signal.offset):
        kind, number = pa.int64(), int

    def value(decoded: Any) -> Any:
        return None if isinstance(decoded, str) else number(decoded)
    columns: list[tuple[str, Any, Callable[[Any], Any]]] = [(signal.name, kind, value)]
    if len(named) > 1:
        columns.append((signal.name + LABEL_SUFFIX, pa.string(),
                        lambda decoded: decoded if isinstance(decoded, str) else None))
    return columns


@dataclass
class _Table:
    """One message's file, filled a row group at a time."""

    path: Path
    schema: Any
    columns: dict[str, list[Any]]
    convert: dict[str, list[tuple[str, Callable[[Any], Any]]]]  # signal -> its columns
    writer: Any = None
    rows: int = 0

    def flush(self, pa: Any, pq: Any) -> None:
        if not self.columns["time_s"]:
            return
        batch = pa.table({name: pa.array(values, type=self.schema.field(name).type)
                          for name, values in self.columns.items()}, schema=self.schema)
        if self.writer is None:
            self.writer = pq.ParquetWriter(str(self.path), self.schema, compression="zstd")
        self.writer.write_table(batch)
        for values in self.columns.values():
            values.clear()


@dataclass
class ConvertStats:
    frames: int = 0
    undecoded: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # rows per message


class ParquetSink:
    """Decoded rows into a directory of Parquet files, one per message."""

    def __init__(self, directory: Path, decoder: LogDecoder) -> None:
        self.pa, self.pq = _pyarrow()
        self.directory = directory
        self.decoder = decoder
        self.tables: dict[str, _Table] = {}
        self.stats = ConvertStats()
        if directory.exists():
            if not directory.is_dir() or any(p.suffix != ".parquet" for p in directory.iterdir()):
                raise ParquetError(f"{directory}: exists and is not a Parquet output of this "
                                   "tool: choose another name")
            shutil.rmtree(directory)
        directory.mkdir(parents=True)

    def _table(self, row: DecodedRow) -> _Table:
        name = row.message if row.problem is None and row.message else UNDECODED
        table = self.tables.get(name)
        if table is not None:
            return table
        pa = self.pa
        if name == UNDECODED:
            fields = [("time_s", pa.float64()), ("bus", pa.string()), ("channel", pa.string()),
                      ("id", pa.int64()), ("extended", pa.bool_()), ("message", pa.string()),
                      ("data", pa.binary()), ("problem", pa.string())]
            convert: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}
        else:
            layout = self.decoder.layout(row)
            signals = [s for s in layout.message.signals
                       if s.name not in (E2E_CRC_SIGNAL, E2E_COUNTER_SIGNAL)]
            per_signal = {s.name: signal_columns(pa, layout, s) for s in signals}
            fields = [("time_s", pa.float64()), ("bus", pa.string()), ("channel", pa.string()),
                      ("module", pa.int16()), ("e2e", pa.string()), ("e2e_counter", pa.int8()),
                      *((c, kind) for columns in per_signal.values() for c, kind, _ in columns)]
            convert = {name: [(c, f) for c, _, f in columns]
                       for name, columns in per_signal.items()}
        schema = pa.schema(fields)
        table = self.tables[name] = _Table(self.directory / f"{name}.parquet", schema,
                                           {f: [] for f, _ in fields}, convert)
        return table

    def add(self, row: DecodedRow) -> None:
        table = self._table(row)
        columns = table.columns
        columns["time_s"].append(row.time_s)
        columns["bus"].append(row.bus)
        columns["channel"].append(row.channel)
        self.stats.frames += 1
        if row.problem is not None or not row.message:
            columns["id"].append(row.arbitration_id)
            columns["extended"].append(row.is_extended_id)
            columns["message"].append(row.message)
            columns["data"].append(row.data)
            columns["problem"].append(row.problem)
            self.stats.undecoded += 1
        else:
            columns["module"].append(row.module)
            if row.e2e is None:
                columns["e2e"].append(None)
                columns["e2e_counter"].append(None)
            else:
                status, _, counter = row.e2e.partition("#")
                columns["e2e"].append(status)
                columns["e2e_counter"].append(int(counter) if counter else None)
            present = {s.name: s.value for s in row.signals}
            for name, targets in table.convert.items():
                value = present.get(name)
                for column, convert in targets:
                    columns[column].append(None if value is None else convert(value))
        table.rows += 1
        if len(columns["time_s"]) >= ROW_GROUP_ROWS:
            table.flush(self.pa, self.pq)

    def close(self) -> ConvertStats:
        for name, table in self.tables.items():
            table.flush(self.pa, self.pq)
            if table.writer is not None:
                table.writer.close()
            self.stats.tables[name] = table.rows
        return self.stats


def write_parquet(rows: Iterable[DecodedRow], directory: Path, decoder: LogDecoder,
                  progress: Callable[[int], None] | None = None) -> ConvertStats:
    """Every row into ``directory`` (made anew); ``progress`` gets the frame count now and
    then."""
    sink = ParquetSink(directory, decoder)
    try:
        for row in rows:
            sink.add(row)
            if progress is not None and sink.stats.frames % 200_000 == 0:
                progress(sink.stats.frames)
    finally:
        stats = sink.close()
    return stats


def read_parquet(directory: Path) -> dict[str, Any]:
    """Every table of a converted log, by message name (pyarrow Tables)."""
    _, pq = _pyarrow()
    if not directory.is_dir():
        raise ParquetError(f"{directory}: not a converted log (a directory of .parquet files)")
    return {p.stem: pq.read_table(str(p)) for p in sorted(directory.glob("*.parquet"))}
