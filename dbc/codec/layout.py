"""What the code needs to know about one DBC message, derived from the DBC alone.

Frame classes and codecs ask the layout for signal names, ranges, invalid markers,
multiplexer values and cycle times; nothing about bits or scaling is written elsewhere.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from dbc import e2e
from dbc.codec.fast_decode import FastDecoder
from dbc.codec.fast_encode import FastEncoder
from dbc.database import module_id_range
from dbc.e2e import E2E_COUNTER_SIGNAL, E2E_CRC_SIGNAL
from dbc.errors import ContractError

INVALID_CHOICE = "Invalid"
_INDEXED = re.compile(r"^(?P<prefix>[A-Za-z_]+?)(?P<index>\d+)$")


@dataclass(frozen=True)
class SignalRange:
    minimum: float
    maximum: float

    def clamp(self, value: float) -> float:
        return min(max(value, self.minimum), self.maximum)


@dataclass(frozen=True, slots=True)
class ArraySlot:
    """One element of a multiplexed array: its index, signal and invalid marker."""

    index: int
    signal: str
    invalid: float | None
    decimals: int

    def read(self, value: float) -> float | None:
        if self.invalid is not None and abs(value - self.invalid) < 0.5 * 10.0**-self.decimals:
            return None
        return round(value, self.decimals) if self.decimals else value


class MessageLayout:
    """Layout facts of one message: ids, length, cycle time, E2E, multiplexing, arrays."""

    def __init__(self, message: Any) -> None:
        self.message = message
        self.name: str = message.name
        self.base_id: int = message.frame_id
        self.is_extended_id: bool = message.is_extended_frame
        self.length: int = message.length
        self.cycle_time_s: float | None = (
            message.cycle_time / 1000.0 if message.cycle_time else None
        )
        self.module_id_range: int = module_id_range(message)
        self.senders: tuple[str, ...] = tuple(message.senders)
        self.receivers: frozenset[str] = frozenset(
            r for s in message.signals for r in s.receivers
        )
        self._signals = {s.name: s for s in message.signals}
        self.e2e_protected = E2E_CRC_SIGNAL in self._signals
        if self.e2e_protected:
            self._check_e2e_layout()
        mux = [s for s in message.signals if s.is_multiplexer]
        self.multiplexer: str | None = mux[0].name if mux else None
        self.fast = FastDecoder(message)
        self.encoder = FastEncoder(message)
        self._invalid_raw = {
            s.name: raw
            for s in message.signals
            if s.choices
            for raw, label in s.choices.items()
            if str(label) == INVALID_CHOICE
        }

    def _check_e2e_layout(self) -> None:
        crc = self._signals[E2E_CRC_SIGNAL]
        counter = self._signals.get(E2E_COUNTER_SIGNAL)
        if crc.start != 8 * e2e.CRC_BYTE or crc.length != 8 or crc.byte_order != "little_endian":
            raise ContractError(f"{self.name}: {E2E_CRC_SIGNAL} must fill byte 0")
        if (
            counter is None
            or counter.start != 8 * e2e.COUNTER_BYTE
            or counter.length != 4
            or counter.byte_order != "little_endian"
        ):
            raise ContractError(
                f"{self.name}: {E2E_COUNTER_SIGNAL} must be the low nibble of byte 1"
            )

    def signal(self, name: str) -> Any:
        try:
            return self._signals[name]
        except KeyError:
            raise ContractError(f"{self.name} has no signal {name}") from None

    def has_signal(self, name: str) -> bool:
        return name in self._signals

    @functools.cache  # noqa: B019
    def byte_span(self, name: str) -> tuple[int, int]:
        """The bytes (start, stop) a signal of whole bytes fills, in either byte order."""
        signal = self.signal(name)
        first_bit = signal.start - 7 if signal.byte_order == "big_endian" else signal.start
        if first_bit % 8 or signal.length % 8:
            raise ContractError(f"{self.name}.{name} does not fill whole bytes")
        return first_bit // 8, first_bit // 8 + signal.length // 8

    def saturate(self, name: str, value: float) -> float:
        """A physical value brought within what the signal can carry."""
        return self.range_of(name).clamp(value)

    @functools.cache  # noqa: B019 - layouts live as long as the process
    def range_of(self, name: str) -> SignalRange:
        signal = self.signal(name)
        if signal.minimum is None or signal.maximum is None:
            raise ContractError(f"{self.name}.{name} has no range in the DBC")
        invalid = self.invalid_value(name)
        maximum = float(signal.maximum)
        if invalid is not None and maximum >= invalid:
            # the top of the declared range is the invalid marker, not a measurement
            maximum = self.physical(name, self._invalid_raw[name] - 1)
        return SignalRange(float(signal.minimum), maximum)

    def physical(self, name: str, raw: int) -> float:
        signal = self.signal(name)
        return float(raw * signal.scale + signal.offset)

    def resolution(self, name: str) -> float:
        return float(self.signal(name).scale)

    @functools.cache  # noqa: B019
    def decimals(self, name: str) -> int:
        """Decimal places that represent the signal's resolution exactly."""
        return max(0, -math.floor(math.log10(self.resolution(name)) + 1e-9))

    def invalid_raw(self, name: str) -> int | None:
        """Raw value of the signal's "Invalid" marker, if it has one."""
        return self._invalid_raw.get(name)

    @functools.cache  # noqa: B019
    def invalid_value(self, name: str) -> float | None:
        """Physical value of the signal's "Invalid" marker, if it has one."""
        raw = self._invalid_raw.get(name)
        return None if raw is None else self.physical(name, raw)

    @functools.cache  # noqa: B019
    def choices(self, name: str) -> dict[int, str]:
        return {int(raw): str(label) for raw, label in (self.signal(name).choices or {}).items()}

    @functools.cache  # noqa: B019
    def mux_value_of(self, names: tuple[str, ...]) -> int:
        """The multiplexer value under which all the given signals are sent."""
        values: set[int] = set()
        for name in names:
            ids = self.signal(name).multiplexer_ids
            if not ids or len(ids) != 1:
                raise ContractError(f"{self.name}.{name} is not in exactly one multiplexed page")
            values.add(int(ids[0]))
        if len(values) != 1:
            raise ContractError(f"{self.name}: signals {sorted(names)} span pages {values}")
        return values.pop()

    @functools.cache  # noqa: B019
    def indexed_signals(self, prefix: str) -> dict[int, str]:
        """Signals named prefix + number (``CellVoltage07``), by number."""
        found: dict[int, str] = {}
        for name in self._signals:
            match = _INDEXED.match(name)
            if match and match["prefix"] == prefix:
                found[int(match["index"])] = name
        if not found:
            raise ContractError(f"{self.name} has no signals {prefix}NN")
        return found

    @functools.cache  # noqa: B019
    def array_groups(self, prefix: str) -> dict[int, tuple[int, ...]]:
        """For an array spread over multiplexed groups: mux value -> element indices."""
        groups: dict[int, list[int]] = {}
        for index, name in sorted(self.indexed_signals(prefix).items()):
            groups.setdefault(self.mux_value_of((name,)), []).append(index)
        return {mux: tuple(indices) for mux, indices in sorted(groups.items())}

    @functools.cache  # noqa: B019
    def array_slots(self, prefix: str) -> dict[int, tuple[ArraySlot, ...]]:
        """Like `array_groups`, with each element's signal name and invalid marker."""
        names = self.indexed_signals(prefix)
        return {
            mux: tuple(
                ArraySlot(i, names[i], self.invalid_value(names[i]), self.decimals(names[i]))
                for i in indices
            )
            for mux, indices in self.array_groups(prefix).items()
        }
