"""Stateful ends of the pack bus: the sender's alive counters and the receiver's checks.

`FrameSender` numbers every protected frame; `FrameReceiver` checks length and E2E before it
decodes, keeps one `E2EChecker` per (message, module) and counts everything it rejects. A bad
frame is counted, never trusted, never raised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from dbc.codec import CanFrame, Codec
from dbc.codec.layout import MessageLayout
from dbc.e2e import ACCEPTED, AliveCounters, E2EChecker, E2EStatistics, E2EStatus
from dbc.errors import DecodeError, DecodeFailure
from dbc.frames import Frame


class FrameSender:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._counters = AliveCounters()

    def encode(self, frame: Frame, module_id: int = 0) -> CanFrame:
        layout = self.codec.layout_of(type(frame))
        counter = self._counters.take(layout.base_id, module_id) if layout.e2e_protected else 0
        return self.codec.encode(frame, module_id, counter)


@dataclass(init=False)
class Reception:
    """One received frame: ``frame`` is None when E2E rejected it. (The ``__init__`` is
    written out: docs/compiled.md.)"""

    layout: MessageLayout
    module_id: int
    frame: Frame | None
    e2e: E2EStatus | None  # None: the message is not E2E protected

    def __init__(self, layout: MessageLayout, module_id: int, frame: Frame | None,
                 e2e: E2EStatus | None) -> None:
        self.layout = layout
        self.module_id = module_id
        self.frame = frame
        self.e2e = e2e


class FrameReceiver:
    """Receives for one DBC node: messages that node does not receive are counted and dropped
    (a node on a multicast or vcan bus also hears its own frames)."""

    def __init__(self, codec: Codec, max_lost_frames: int, node: str) -> None:
        self.codec = codec
        self.node = node
        self.accepted_messages = codec.received_by(node)
        self.max_lost_frames = max_lost_frames
        self.checkers: dict[tuple[str, int], E2EChecker] = {}
        self._routes: dict[tuple[int, bool], tuple[MessageLayout | None, int,
                                                   E2EChecker | None]] = {}
        self.failures: Counter[DecodeFailure] = Counter()
        self.decoded: Counter[str] = Counter()  # accepted frames by message name
        self.not_for_node = 0
        self.e2e_errors = 0  # every checker's errors: what total_statistics().errors says
        self.last_failure: str | None = None

    def receive(self, frame: CanFrame) -> Reception | None:
        """Check and decode a frame; None (and counted) when it is not for this node or
        cannot be decoded at all."""
        try:
            route = self._routes.get((frame.arbitration_id, frame.is_extended_id))
            if route is None:
                route = self._route(frame)
            layout, module_id, checker = route
            if layout is None:
                self.not_for_node += 1
                return None
            status: E2EStatus | None = None
            if checker is not None and len(frame.data) == layout.length:
                status = checker.check(frame.data)
                if status not in ACCEPTED:  # the checker returns errors or accepted frames
                    self.e2e_errors += 1
                    return Reception(layout, module_id, None, status)
            decoded = self.codec.decode_payload(layout, frame.data)
            self.decoded[layout.name] += 1
            return Reception(layout, module_id, decoded, status)
        except DecodeError as exc:
            self.failures[exc.failure] += 1
            self.last_failure = str(exc)
            return None

    def _route(self, frame: CanFrame) -> tuple[MessageLayout | None, int, E2EChecker | None]:
        """What an id is for this node, resolved once: (layout or None when the node does
        not receive it, module id, E2E checker of the sender or None). DecodeError for an id
        the bus does not know (not remembered: such ids are not expected to repeat)."""
        layout, module_id = self.codec.lookup(frame.arbitration_id, frame.is_extended_id)
        route: tuple[MessageLayout | None, int, E2EChecker | None]
        if layout.name not in self.accepted_messages:
            route = (None, module_id, None)
        else:
            route = (layout, module_id,
                     self._checker(layout, module_id) if layout.e2e_protected else None)
        self._routes[(frame.arbitration_id, frame.is_extended_id)] = route
        return route

    def _checker(self, layout: MessageLayout, module_id: int) -> E2EChecker:
        key = (layout.name, module_id)
        checker = self.checkers.get(key)
        if checker is None:
            checker = self.checkers[key] = E2EChecker(layout.base_id, self.max_lost_frames)
        return checker

    def statistics_of_module(self, module_id: int) -> E2EStatistics:
        total = E2EStatistics()
        for (_, module), checker in self.checkers.items():
            if module == module_id:
                total.add(checker.statistics)
        return total

    def total_statistics(self) -> E2EStatistics:
        total = E2EStatistics()
        for checker in self.checkers.values():
            total.add(checker.statistics)
        return total
