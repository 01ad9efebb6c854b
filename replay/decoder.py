"""Decoding a log with every project DBC file (and extra ones): one row per frame.

Each frame is decoded on the bus its log channel names (``pack``, ``vehicle``, ``sim``) or,
when the channel says nothing, on the first bus whose DBC knows its id (pack, vehicle, the
extra files, then the simulation bus). E2E-protected frames get their check result, per
sender, as a receiver would see it. A frame nobody knows, or that does not decode, is shown
raw with the reason; nothing raises.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from dbc.codec import Codec, inverter_codec, pack_codec, sim_codec, vehicle_codec
from dbc.codec.layout import MessageLayout
from dbc.database import load_file
from dbc.e2e import E2E_COUNTER_SIGNAL, E2E_CRC_SIGNAL, E2EChecker, read_counter
from dbc.errors import DbcError
from replay.logged import LoggedFrame

E2E_SIGNALS = (E2E_CRC_SIGNAL, E2E_COUNTER_SIGNAL)


class SignalValue(NamedTuple):  # named tuples: one row and several values per frame
    name: str
    value: float | int | str
    unit: str


class DecodedRow(NamedTuple):
    time_s: float
    channel: str | None
    bus: str | None
    arbitration_id: int
    is_extended_id: bool
    data: bytes
    message: str | None = None
    module: int | None = None
    e2e: str | None = None  # "ok#3" (status and alive counter), None: not protected
    signals: tuple[SignalValue, ...] = ()
    problem: str | None = None  # why it is shown raw

    @property
    def id_text(self) -> str:
        return f"0x{self.arbitration_id:08X}" if self.is_extended_id else \
            f"0x{self.arbitration_id:03X}"


@dataclass
class RowFilter:
    ids: set[int] = field(default_factory=set)
    modules: set[int] = field(default_factory=set)
    signal_patterns: list[str] = field(default_factory=list)
    start_s: float | None = None
    end_s: float | None = None

    def wants_time(self, time_s: float) -> bool:
        return (self.start_s is None or time_s >= self.start_s) and \
            (self.end_s is None or time_s <= self.end_s)

    def wants_id(self, arbitration_id: int) -> bool:
        return not self.ids or arbitration_id in self.ids

    def signal_matches(self, row: DecodedRow, signal: str) -> bool:
        return any(signal_matches(p, row.message, signal) for p in self.signal_patterns)

    def apply(self, row: DecodedRow) -> DecodedRow | None:
        if self.modules and row.module not in self.modules:
            return None
        if not self.signal_patterns:
            return row
        kept = tuple(s for s in row.signals if self.signal_matches(row, s.name))
        if not kept:
            return None
        return row._replace(signals=kept)


def signal_matches(pattern: str, message: str | None, signal: str) -> bool:
    """A glob on the signal name, or on MESSAGE.SIGNAL when it has a dot."""
    name = f"{message}.{signal}" if "." in pattern else signal
    return fnmatch.fnmatchcase(name, pattern)


def parse_ids(texts: Iterable[str]) -> set[int]:
    """``0x620``, ``1568`` or a range ``0x600-0x61F``."""
    ids: set[int] = set()
    for text in texts:
        low, sep, high = text.partition("-")
        try:
            first = int(low, 0)
            last = int(high, 0) if sep else first
        except ValueError:
            raise ValueError(f"--id {text!r}: expected a number or a range like "
                             "0x600-0x61F") from None
        ids.update(range(first, last + 1))
    return ids


def _to_raw(signal: Any) -> Any:
    """physical -> raw of a signal (for its value table); plain int() when unscaled."""
    if signal.scale == 1 and signal.offset == 0:
        return int
    scale, offset = signal.scale, signal.offset
    return lambda value: round((value - offset) / scale)  # as cantools' linear conversion


class LogDecoder:
    def __init__(self, extra_dbcs: Iterable[Path] = (), max_lost_frames: int = 2) -> None:
        # the inverter's bus: the CAN-BMS protocol's (the vehicle bus of a pack without a VCU
        # carries it; the HV protocols' DBC files go in with --dbc)
        self.buses: list[tuple[str, Codec]] = [("pack", pack_codec()),
                                               ("vehicle", vehicle_codec()),
                                               ("inverter", inverter_codec("can_bms"))]
        for path in extra_dbcs:
            self.buses.append((path.stem, Codec([load_file(path)], [])))
        self.buses.append(("sim", sim_codec()))
        self.by_name = dict(self.buses)
        self.max_lost_frames = max_lost_frames
        self._checkers: dict[tuple[str, str, int], E2EChecker] = {}
        # per message: signal -> (unit, value table by raw value, physical -> raw)
        self._described: dict[str, dict[str, tuple[str, dict[int, str], Any]]] = {}
        self._resolved: dict[tuple[str | None, int, bool],
                             tuple[str, MessageLayout, int] | None] = {}

    def resolve(self, logged: LoggedFrame) -> tuple[str, MessageLayout, int] | None:
        """The bus, message and module of a frame; resolved once per channel and id."""
        frame = logged.frame
        key = (logged.channel, frame.arbitration_id, frame.is_extended_id)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(logged)
        return self._resolved[key]

    def layout(self, row: DecodedRow) -> MessageLayout:
        """The message layout a decoded row was decoded with."""
        resolved = self._resolved.get((row.channel, row.arbitration_id, row.is_extended_id))
        if resolved is None:
            raise KeyError(f"{row.id_text} on {row.channel}: not decoded by this decoder")
        return resolved[1]

    def _resolve(self, logged: LoggedFrame) -> tuple[str, MessageLayout, int] | None:
        frame = logged.frame
        candidates = [(logged.channel, self.by_name[logged.channel])] \
            if logged.channel in self.by_name else self.buses
        if logged.channel == "vehicle":  # a storage pack's inverter shares the vehicle bus
            candidates = [*candidates, ("inverter", self.by_name["inverter"])]
        for bus, codec in candidates:
            try:
                layout, module = codec.lookup(frame.arbitration_id, frame.is_extended_id)
            except DbcError:
                continue
            return str(bus), layout, module
        return None

    def decode(self, logged: LoggedFrame) -> DecodedRow:
        frame = logged.frame

        def row(bus: str | None = None, message: str | None = None, module: int | None = None,
                e2e: str | None = None, signals: tuple[SignalValue, ...] = (),
                problem: str | None = None) -> DecodedRow:
            return DecodedRow(logged.time_s, logged.channel, bus, frame.arbitration_id,
                              frame.is_extended_id, frame.data, message, module, e2e, signals,
                              problem)

        if logged.is_error_frame:
            return row(problem="error frame")
        resolved = self.resolve(logged)
        if resolved is None:
            return row(problem="unknown id")
        bus, layout, module_id = resolved
        module = module_id if layout.module_id_range else None
        if len(frame.data) != layout.length:
            return row(bus, layout.name, module, problem=f"wrong length {len(frame.data)}, "
                                                         f"the DBC says {layout.length}")
        e2e = None
        if layout.e2e_protected:
            key = (bus, layout.name, module_id)
            checker = self._checkers.get(key)
            if checker is None:
                checker = self._checkers[key] = E2EChecker(layout.base_id, self.max_lost_frames)
            e2e = f"{checker.check(frame.data).value}#{read_counter(frame.data)}"
        try:
            decoded: dict[str, Any] = layout.fast.decode(frame.data)
        except KeyError as exc:
            return row(bus, layout.name, module, e2e, problem=f"malformed: no multiplexed "
                                                              f"page {exc}")
        except Exception as exc:  # a foreign DBC can fail in many ways: show it raw
            return row(bus, layout.name, module, e2e, problem=f"malformed: {exc}")
        return row(bus, layout.name, module, e2e, tuple(self._signals(layout, decoded)))

    def _signals(self, layout: MessageLayout, decoded: dict[str, Any]) -> list[SignalValue]:
        described = self._described.get(layout.name)
        if described is None:
            described = self._described[layout.name] = {
                s.name: (s.unit or "", layout.choices(s.name), _to_raw(s))
                for s in layout.message.signals}
        values = []
        for name, value in decoded.items():
            if name in E2E_SIGNALS:
                continue
            unit, named, to_raw = described[name]
            if named:  # a value table (keyed by the raw value): show the name, as cantools does
                value = named.get(int(to_raw(value)), value)
            values.append(SignalValue(name, value, unit))
        return values

    def rows(self, frames: Iterable[LoggedFrame], row_filter: RowFilter) -> Iterator[DecodedRow]:
        for logged in frames:
            if not row_filter.wants_time(logged.time_s) or \
                    not row_filter.wants_id(logged.frame.arbitration_id):
                continue
            row = row_filter.apply(self.decode(logged))
            if row is not None:
                yield row

