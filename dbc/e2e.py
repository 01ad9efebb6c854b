"""End-to-end protection of pack-bus frames, AUTOSAR profile 1 style (docs/PROTOCOLS.md section 2).

Layout (fixed by the profile, checked against the DBC when it is loaded):
byte 0 is the CRC, the low nibble of byte 1 is the alive counter (0..14, 15 is invalid).
The CRC is CRC-8 poly 0x1D over DataID low byte, DataID high byte (DataID mode BOTH) and
data bytes 1..n-1. The DataID of a message is its base CAN id.

The sender side is `AliveCounters`; the receiver side is `E2EChecker`, one per sender.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from dbc.crc import CRC8_E2E_P01

# the signals of a protected message that carry the profile (every protected DBC message)
E2E_CRC_SIGNAL = "E2E_CRC"
E2E_COUNTER_SIGNAL = "E2E_AliveCounter"

COUNTER_MODULO: Final = 15  # profile 1 counts 0..14; 15 is not a valid counter
CRC_BYTE: Final = 0
COUNTER_BYTE: Final = 1
COUNTER_MASK: Final = 0x0F
INSTANCE_BITS: Final = 16  # sender instances (module ids) of one DataID: 0..65535
INSTANCE_MASK: Final = (1 << INSTANCE_BITS) - 1


class E2EStatus(enum.Enum):
    """Result of checking one received frame (or of polling when none arrived)."""

    INITIAL = "initial"  # first frame from this sender: accepted, no reference counter yet
    OK = "ok"
    OK_SOME_LOST = "ok_some_lost"  # accepted; frames were lost but within the tolerated gap
    REPEATED = "repeated"  # same counter as the previous frame: discarded
    WRONG_SEQUENCE = "wrong_sequence"  # counter jumped beyond the tolerated gap: discarded
    ERROR = "error"  # CRC mismatch or invalid counter: discarded
    NO_NEW_DATA = "no_new_data"  # nothing arrived since the last poll

    # hashed for every received frame: identity hashing is far cheaper than Enum's
    __hash__ = object.__hash__

    @property
    def accepted(self) -> bool:
        return self in ACCEPTED

    @property
    def is_error(self) -> bool:
        return self in _ERRORS


ACCEPTED = frozenset({E2EStatus.INITIAL, E2EStatus.OK, E2EStatus.OK_SOME_LOST})
_ERRORS = frozenset({E2EStatus.REPEATED, E2EStatus.WRONG_SEQUENCE, E2EStatus.ERROR})


_STARTS: dict[int, int] = {}  # the register after the DataID bytes, by DataID
_TABLE: Final = CRC8_E2E_P01.table
_XOR_OUT: Final = CRC8_E2E_P01.xor_out


def compute_crc(data_id: int, data: bytes | bytearray) -> int:
    """Profile 1 CRC of a frame (byte 0 is excluded). Computed for every frame sent and
    received: the DataID part is kept per DataID and the loop is written out here."""
    crc = _STARTS.get(data_id)
    if crc is None:
        crc = _STARTS[data_id] = CRC8_E2E_P01.compute(
            bytes((data_id & 0xFF, (data_id >> 8) & 0xFF)), start=CRC8_E2E_P01.init)
    table = _TABLE
    # bytes, not bytearray: indexed natively where compiled (docs/compiled.md)
    payload = data if isinstance(data, bytes) else bytes(data)
    for index in range(1, len(payload)):  # no slice: no copy
        crc = table[crc ^ payload[index]]
    return crc ^ _XOR_OUT


def protect(data: bytearray, data_id: int, counter: int) -> None:
    """Write the alive counter and the CRC into an encoded frame, in place."""
    if not 0 <= counter < COUNTER_MODULO:
        raise ValueError(f"alive counter must be 0..{COUNTER_MODULO - 1}, got {counter}")
    data[COUNTER_BYTE] = (data[COUNTER_BYTE] & ~COUNTER_MASK & 0xFF) | counter
    data[CRC_BYTE] = compute_crc(data_id, data)


def read_counter(data: bytes | bytearray) -> int:
    return data[COUNTER_BYTE] & COUNTER_MASK


class AliveCounters:
    """Sender side: one alive counter per (DataID, sender instance)."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}  # by DataID and instance in one int: no tuple a frame

    def take(self, data_id: int, instance: int = 0) -> int:
        if not 0 <= instance <= INSTANCE_MASK:
            raise ValueError(f"sender instance must be 0..{INSTANCE_MASK}, got {instance}")
        key = data_id << INSTANCE_BITS | instance
        counter = self._next.get(key, 0)
        self._next[key] = (counter + 1) % COUNTER_MODULO
        return counter


@dataclass
class E2EStatistics:
    """What one receiver saw from one sender."""

    counts: dict[E2EStatus, int] = field(default_factory=lambda: dict.fromkeys(E2EStatus, 0))
    lost_frames: int = 0  # frames the counter says were missing (accepted and wrong-sequence gaps)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.counts.items() if status.is_error)

    @property
    def accepted(self) -> int:
        return sum(n for status, n in self.counts.items() if status.accepted)

    def add(self, other: E2EStatistics) -> None:
        for status, n in other.counts.items():
            self.counts[status] += n
        self.lost_frames += other.lost_frames


class E2EChecker:
    """Receiver side for one sender: classifies every frame by CRC and alive counter.

    ``max_lost_frames`` is the tolerated counter gap: up to that many missing frames in a row
    give OK_SOME_LOST (accepted), more give WRONG_SEQUENCE (discarded, and the checker
    resynchronises on that frame, so the next one in sequence is OK again).
    """

    def __init__(self, data_id: int, max_lost_frames: int) -> None:
        if not 0 <= max_lost_frames < COUNTER_MODULO - 1:
            raise ValueError(f"max_lost_frames must be 0..{COUNTER_MODULO - 2}")
        self.data_id = data_id
        self.max_lost_frames = max_lost_frames
        self.statistics = E2EStatistics()
        self._last_counter: int | None = None
        self._new_data = False

    def check(self, data: bytes | bytearray) -> E2EStatus:
        self._new_data = True
        if len(data) >= 2 and data[CRC_BYTE] == compute_crc(self.data_id, data):
            counter = data[COUNTER_BYTE] & COUNTER_MASK
            last = self._last_counter
            if last is not None and counter == (last + 1) % COUNTER_MODULO:
                self._last_counter = counter  # the common case: the next frame in sequence
                self.statistics.counts[E2EStatus.OK] += 1
                return E2EStatus.OK
            status, lost = self._sequence(counter)
        else:
            status, lost = E2EStatus.ERROR, 0
        self.statistics.counts[status] += 1
        self.statistics.lost_frames += lost
        return status

    def poll(self) -> E2EStatus | None:
        """NO_NEW_DATA if no frame arrived since the previous poll, else None."""
        if self._new_data:
            self._new_data = False
            return None
        self.statistics.counts[E2EStatus.NO_NEW_DATA] += 1
        return E2EStatus.NO_NEW_DATA

    def _sequence(self, counter: int) -> tuple[E2EStatus, int]:
        """A frame with a valid CRC: its counter against the previous one."""
        if counter >= COUNTER_MODULO:
            return E2EStatus.ERROR, 0
        last, self._last_counter = self._last_counter, counter
        if last is None:
            return E2EStatus.INITIAL, 0
        delta = (counter - last) % COUNTER_MODULO
        if delta == 0:
            return E2EStatus.REPEATED, 0
        lost = delta - 1
        if lost == 0:
            return E2EStatus.OK, 0
        if lost <= self.max_lost_frames:
            return E2EStatus.OK_SOME_LOST, lost
        return E2EStatus.WRONG_SEQUENCE, lost
