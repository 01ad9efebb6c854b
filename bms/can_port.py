"""The async adapter around one python-can bus (the services' only way to a bus).

`CanPort` opens the bus from configuration (``can.Bus(**kwargs, ignore_config=True)``),
delivers every received frame to its subscribers together with its receive time on the
loop's clock (`received_at`: the kernel's timestamp, so that a frame that waited in the
socket while the loop was busy is as old as it is), and sends without ever blocking the
event loop. A malformed or error frame is counted, never raised.
Subscribers that name their ids are filtered for in the kernel: by SocketCAN's filters, or
by a socket filter on udp_multicast (`bms.multicast_filter`). Used as an async context
manager; closing is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import can

from bms import multicast_filter
from bms.errors import BusError
from bms.netns import multicast_refusal
from dbc.codec import CanFrame

log = logging.getLogger(__name__)

FrameCallback = Callable[[CanFrame, float], None]
# Large receive buffers ride out scheduling hiccups: 4 MiB hold about 5 s of a saturated
# 500 kbit/s bus on udp_multicast (one datagram costs about 1 KiB of buffer).
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
_MAX_FRAMES_PER_WAKEUP = 256
_THREAD_POLL_S = 0.05
# a frame's timestamp further back than this (or ahead) is a clock step, or none at all
MAX_QUEUED_S = 60.0


def received_at(stamp_wall_s: float, wall_now_s: float, loop_now_s: float,
                earliest_s: float) -> float:
    """A frame's receive time on the loop's clock, from the interface's timestamp (the
    kernel's receive time, SO_TIMESTAMPNS, on SocketCAN and udp_multicast; the wall clock):
    the loop's now less the time the frame waited. A timestamp ahead of the wall clock or
    more than MAX_QUEUED_S behind it gives the loop's now. Never before ``earliest_s`` (the
    port's previous frame): a port's times do not go back."""
    age_s = wall_now_s - stamp_wall_s
    at_s = loop_now_s - age_s if 0.0 <= age_s <= MAX_QUEUED_S else loop_now_s
    return max(at_s, earliest_s)


@dataclass
class PortStatistics:
    rx_frames: int = 0
    tx_frames: int = 0
    rx_errors: int = 0  # frames python-can could not read (malformed datagram, ...)
    tx_errors: int = 0  # frames that could not be sent (buffer full, bus down)
    error_frames: int = 0  # CAN error frames reported by the interface
    kernel_filter_ids: int = 0  # ids the kernel filters for (0: every frame reaches Python)


def open_bus(kwargs: Mapping[str, Any]) -> can.BusABC:
    """Open a python-can bus, ignoring any ~/.canrc so configuration stays explicit."""
    if kwargs.get("interface") == "udp_multicast":
        refusal = multicast_refusal()
        if refusal is not None:
            raise BusError(refusal)
    try:
        return can.Bus(**dict(kwargs), ignore_config=True)
    except (can.CanError, OSError, ValueError, TypeError, ImportError, NotImplementedError) as exc:
        raise BusError(f"cannot open CAN bus {dict(kwargs)}: {exc}") from exc


def enlarge_receive_buffer(bus: can.BusABC, size: int = RECEIVE_BUFFER_BYTES) -> int | None:
    """Grow the kernel receive buffer of a socket-based bus; returns the size granted."""
    try:
        fd = bus.fileno()
    except NotImplementedError:
        return None
    if fd < 0:
        return None
    with socket.socket(fileno=fd) as sock:
        try:
            for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
                if option is None:
                    continue
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, size)
                    break
                except PermissionError:
                    continue
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        finally:
            sock.detach()  # the bus owns the descriptor
    return int(granted)


def to_frame(message: can.Message) -> CanFrame:
    return CanFrame(message.arbitration_id, bytes(message.data), message.is_extended_id)


def to_message(frame: CanFrame) -> can.Message:
    return can.Message(arbitration_id=frame.arbitration_id, data=frame.data,
                       is_extended_id=frame.is_extended_id, is_fd=False)


class KernelPeriodic:
    """A sequence of frames the kernel's broadcast manager sends, one per period, in a loop.

    It is armed for ``lease_s`` only: the owner renews it while it is healthy, so a process
    that hangs (without dying) stops sending within the lease instead of having the kernel
    pretend it is alive. Updating the frames keeps the kernel's position in the sequence, so
    a sequence of alive counters stays continuous across updates.
    """

    def __init__(self, task: Any, lease_s: float) -> None:
        self._task = task
        self.lease_s = lease_s

    def update(self, frames: list[CanFrame]) -> None:
        self._task.modify_data([to_message(f) for f in frames])

    def renew(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()


class CanPort:
    """One bus, subscribers called on the event loop, sends that never block."""

    def __init__(self, kwargs: Mapping[str, Any], name: str = "bus") -> None:
        self.kwargs = dict(kwargs)
        self.name = name
        self.statistics = PortStatistics()
        self._subscribers: list[FrameCallback] = []
        self._wanted_ids: set[int] = set()
        self._wants_everything = False
        self._error_subscribers: list[Callable[[can.Message, float], None]] = []
        self._message_subscribers: list[Callable[[can.Message], None]] = []
        self._bus: can.BusABC | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._stop_thread = threading.Event()
        self._failure: asyncio.Future[None] | None = None
        self._last_received_s = float("-inf")

    def subscribe(self, callback: FrameCallback, ids: frozenset[int] | None = None) -> None:
        """Frames go to ``callback``; with ``ids``, only those (standard 11-bit ids). A port
        whose every subscriber names its ids filters in the interface: in the kernel on
        SocketCAN, so unwanted frames never reach the process."""
        self._subscribers.append(callback)
        if ids is None:
            self._wants_everything = True
        else:
            self._wanted_ids |= ids
        self._apply_filters()

    def _apply_filters(self) -> None:
        bus = self._bus
        if bus is None:
            return
        ids = None if self._wants_everything or not self._wanted_ids else self._wanted_ids
        bus.set_filters(None if ids is None else [
            {"can_id": i, "can_mask": 0x7FF, "extended": False} for i in sorted(ids)])
        interface = self.kwargs.get("interface")
        if interface == "socketcan":  # python-can sets them in the kernel itself
            self.statistics.kernel_filter_ids = len(ids or ())
        elif interface == "udp_multicast":
            kernel = multicast_filter.apply(bus.fileno(), ids)
            self.statistics.kernel_filter_ids = len(ids or ()) if kernel else 0

    def subscribe_errors(self, callback: Callable[[can.Message, float], None]) -> None:
        """Called with every CAN error frame the interface reports (bus-off, ...)."""
        self._error_subscribers.append(callback)

    def subscribe_messages(self, callback: Callable[[can.Message], None]) -> None:
        """Called with every python-can message as received, error frames included, with
        the interface's own timestamp (for recorders)."""
        self._message_subscribers.append(callback)

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._failure = self._loop.create_future()
        self._bus = open_bus(self.kwargs)
        enlarge_receive_buffer(self._bus)
        self._apply_filters()
        try:
            fd = self._bus.fileno()
        except NotImplementedError:
            fd = -1
        if fd >= 0:
            self._reader_fd = fd
            self._loop.add_reader(fd, self._drain)
        else:
            self._thread = threading.Thread(
                target=self._poll_in_thread, name=f"can-rx-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._reader_fd is not None and self._loop is not None:
            self._loop.remove_reader(self._reader_fd)
            self._reader_fd = None
        if self._thread is not None:
            self._stop_thread.set()
            self._thread.join(timeout=1.0)
            self._thread = None
        if self._bus is not None:
            bus, self._bus = self._bus, None
            bus.shutdown()

    async def failed(self) -> None:
        """Completes with the exception a subscriber raised (a bug): lets the service stop."""
        assert self._failure is not None, "port not open"
        await self._failure

    def start_periodic(self, frames: list[CanFrame], period_s: float,
                       lease_s: float) -> KernelPeriodic | None:
        """Hand a cyclic sequence to the kernel (SocketCAN's broadcast manager); None where
        the interface has no kernel-timed sending (the caller keeps sending itself)."""
        if self._bus is None or self.kwargs.get("interface") != "socketcan":
            return None
        try:
            task = self._bus.send_periodic([to_message(f) for f in frames], period_s,
                                           duration=lease_s, store_task=False)
        except (can.CanError, OSError, NotImplementedError) as exc:
            log.warning("%s: no kernel periodic sending (%s); sending from the process",
                        self.name, exc)
            return None
        return KernelPeriodic(task, lease_s)

    def send(self, frame: CanFrame) -> bool:
        """Send without blocking; False (and counted) when the interface refuses."""
        if self._bus is None:
            self.statistics.tx_errors += 1
            return False
        message = to_message(frame)
        try:
            self._bus.send(message, timeout=0.0)
        except (can.CanError, OSError) as exc:
            self.statistics.tx_errors += 1
            log.debug("%s: send of 0x%X failed: %s", self.name, frame.arbitration_id, exc)
            return False
        self.statistics.tx_frames += 1
        return True

    def _drain(self) -> None:
        bus = self._bus
        if bus is None:
            return
        for _ in range(_MAX_FRAMES_PER_WAKEUP):
            try:
                message = bus.recv(timeout=0.0)
            except (can.CanError, OSError, ValueError) as exc:
                self.statistics.rx_errors += 1
                log.debug("%s: unreadable frame: %s", self.name, exc)
                continue
            if message is None:
                return
            self._deliver(message)

    def _poll_in_thread(self) -> None:
        assert self._loop is not None
        while not self._stop_thread.is_set():
            bus = self._bus
            if bus is None:
                return
            try:
                message = bus.recv(timeout=_THREAD_POLL_S)
            except (can.CanError, OSError, ValueError):
                self.statistics.rx_errors += 1
                continue
            if message is not None:
                with contextlib.suppress(RuntimeError):  # loop closed while stopping
                    self._loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: can.Message) -> None:
        assert self._loop is not None
        now = self._last_received_s = received_at(message.timestamp, time.time(),
                                                  self._loop.time(), self._last_received_s)
        for message_callback in self._message_subscribers:
            message_callback(message)
        if message.is_error_frame:
            self.statistics.error_frames += 1
            for error_callback in self._error_subscribers:
                error_callback(message, now)
            return
        if message.is_remote_frame or message.is_fd:
            self.statistics.rx_errors += 1
            return
        self.statistics.rx_frames += 1
        frame = to_frame(message)
        try:
            for callback in self._subscribers:
                callback(frame, now)
        except Exception as exc:
            log.exception("%s: subscriber failed on 0x%X", self.name, frame.arbitration_id)
            if self._failure is not None and not self._failure.done():
                self._failure.set_exception(exc)
