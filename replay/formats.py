"""Writing decoded rows as a readable table, CSV (one line per signal) or JSON lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from replay.decoder import DecodedRow

FORMATS = ("table", "csv", "jsonl")


def _value(value: float | int | str) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def write_table(rows: Iterable[DecodedRow], out: TextIO) -> int:
    count = 0
    for row in rows:
        where = row.bus or row.channel or "-"
        name = row.message or "?"
        if row.module is not None:
            name += f"[{row.module}]"
        detail = row.problem or ", ".join(
            f"{s.name}={_value(s.value)}{(' ' + s.unit) if s.unit else ''}" for s in row.signals)
        raw = row.data.hex(" ") if row.problem else ""
        out.write(f"{row.time_s:12.6f}  {where:8} {row.id_text:>10}  {name:24} "
                  f"{row.e2e or '-':18} {detail}{('  [' + raw + ']') if raw else ''}\n")
        count += 1
    return count


CSV_COLUMNS = ("time_s", "bus", "channel", "id", "message", "module", "e2e", "signal", "value",
               "unit", "problem", "data")


def write_csv(rows: Iterable[DecodedRow], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        base = [f"{row.time_s:.6f}", row.bus or "", row.channel or "", row.id_text,
                row.message or "", "" if row.module is None else row.module, row.e2e or ""]
        if row.signals:
            for s in row.signals:
                writer.writerow([*base, s.name, _value(s.value), s.unit, row.problem or "",
                                 row.data.hex()])
        else:
            writer.writerow([*base, "", "", "", row.problem or "", row.data.hex()])
        count += 1
    return count


def write_jsonl(rows: Iterable[DecodedRow], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps({
            "time_s": round(row.time_s, 6), "bus": row.bus, "channel": row.channel,
            "id": row.arbitration_id, "extended": row.is_extended_id, "message": row.message,
            "module": row.module, "e2e": row.e2e, "problem": row.problem,
            "data": row.data.hex(),
            "signals": {s.name: {"value": s.value, "unit": s.unit} for s in row.signals},
        }) + "\n")
        count += 1
    return count


WRITERS = {"table": write_table, "csv": write_csv, "jsonl": write_jsonl}
