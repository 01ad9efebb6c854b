"""The CAN port on python-can's in-process virtual bus."""

import asyncio
import time
import uuid

import can
import pytest

from bms.can_port import CanPort, open_bus, received_at
from bms.errors import BusError
from dbc.codec import CanFrame
from testbed.waiting import wait_until


def virtual() -> dict[str, object]:
    return {"interface": "virtual", "channel": f"test-{uuid.uuid4()}"}


async def test_frames_reach_subscribers_with_the_loop_time() -> None:
    kwargs = virtual()
    received: list[tuple[CanFrame, float]] = []
    async with CanPort(kwargs, "a") as a, CanPort(kwargs, "b") as b:
        b.subscribe(lambda frame, now: received.append((frame, now)))
        assert a.send(CanFrame(0x123, b"\x01\x02"))
        assert a.send(CanFrame(0x1806E5F4, bytes(8), is_extended_id=True))
        await wait_until(lambda: len(received) == 2, 2.0, "both frames received")
    assert [f for f, _ in received] == [
        CanFrame(0x123, b"\x01\x02"), CanFrame(0x1806E5F4, bytes(8), True)]
    assert all(now > 0 for _, now in received)
    assert a.statistics.tx_frames == 2
    assert b.statistics.rx_frames == 2


async def test_error_and_remote_frames_are_counted_not_delivered() -> None:
    kwargs = virtual()
    delivered: list[CanFrame] = []
    errors: list[can.Message] = []
    raw = can.Bus(**kwargs)
    try:
        async with CanPort(kwargs, "b") as port:
            port.subscribe(lambda frame, now: delivered.append(frame))
            port.subscribe_errors(lambda message, now: errors.append(message))
            raw.send(can.Message(is_error_frame=True, arbitration_id=0x20000080))
            raw.send(can.Message(is_remote_frame=True, arbitration_id=0x10))
            raw.send(can.Message(arbitration_id=0x11, data=b"\x00", is_extended_id=False))
            await wait_until(lambda: port.statistics.rx_frames == 1, 2.0, "data frame")
            await wait_until(lambda: port.statistics.error_frames == 1, 2.0, "error frame")
    finally:
        raw.shutdown()
    assert delivered == [CanFrame(0x11, b"\x00")]
    assert len(errors) == 1
    assert port.statistics.rx_errors == 1  # the remote frame


async def test_a_failing_subscriber_fails_the_port() -> None:
    kwargs = virtual()

    def broken(frame: CanFrame, now: float) -> None:
        raise RuntimeError("bug in a core")

    async with CanPort(kwargs, "a") as a, CanPort(kwargs, "b") as b:
        b.subscribe(broken)
        a.send(CanFrame(0x1, b""))
        with pytest.raises(RuntimeError, match="bug in a core"):
            async with asyncio.timeout(2.0):
                await b.failed()


async def test_close_is_idempotent_and_send_after_close_is_refused() -> None:
    port = CanPort(virtual(), "a")
    async with port:
        pass
    port.close()
    assert not port.send(CanFrame(0x1, b""))
    assert port.statistics.tx_errors == 1


def test_unknown_interface_is_a_bus_error() -> None:
    with pytest.raises(BusError, match="cannot open CAN bus"):
        open_bus({"interface": "no-such-interface", "channel": "x"})


def test_multicast_is_refused_where_it_could_leave_the_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bms.netns.only_loopback_network", lambda: False)
    monkeypatch.delenv("BMS_NETNS", raising=False)
    with pytest.raises(BusError, match="loopback-only network namespace"):
        open_bus({"interface": "udp_multicast", "channel": "239.74.163.2", "hop_limit": 0})


async def test_kernel_periodic_sending_only_on_socketcan() -> None:
    async with CanPort(virtual(), "a") as port:
        assert port.start_periodic([CanFrame(0x1, b"")], 0.1, lease_s=0.5) is None


async def test_subscribers_with_ids_only_get_those() -> None:
    kwargs = virtual()
    received: list[int] = []
    async with CanPort(kwargs, "a") as a, CanPort(kwargs, "b") as b:
        b.subscribe(lambda frame, now: received.append(frame.arbitration_id),
                    ids=frozenset({0x20, 0x43}))
        for ident in (0x10, 0x20, 0x42, 0x43, 0x620):
            a.send(CanFrame(ident, b""))
        a.send(CanFrame(0x7FF, b""))
        await wait_until(lambda: b.statistics.rx_frames >= 2, 2.0, "the wanted frames")
    assert received == [0x20, 0x43]


def test_a_frame_is_as_old_as_its_kernel_timestamp_says() -> None:
    # waited 0.3 s in the socket while the loop was busy: received 0.3 s before the loop's now
    assert received_at(999.7, 1000.0, 50.0, float("-inf")) == pytest.approx(49.7)
    # a clock step (or no timestamp at all): the loop's now
    assert received_at(0.0, 1000.0, 50.0, float("-inf")) == 50.0
    assert received_at(1000.5, 1000.0, 50.0, float("-inf")) == 50.0
    # never before the port's previous frame
    assert received_at(999.7, 1000.0, 50.0, 49.9) == 49.9


async def test_frames_that_waited_through_a_stall_carry_their_receive_time() -> None:
    kwargs = virtual()
    received: list[tuple[int, float]] = []
    stall_s = 0.3
    loop = asyncio.get_running_loop()
    async with CanPort(kwargs, "a") as a, CanPort(kwargs, "b") as b:
        b.subscribe(lambda frame, now: received.append((frame.arbitration_id, now)))
        assert a.send(CanFrame(0x100, b""))
        await wait_until(lambda: len(received) == 1, 2.0, "the first frame")
        stalled_s = loop.time()
        a.send(CanFrame(0x101, b""))
        time.sleep(stall_s)  # noqa: ASYNC251  (the stall under test: the loop is held)
        resumed_s = loop.time()
        await wait_until(lambda: len(received) == 2, 2.0, "the frame sent in the stall")
    assert stalled_s <= received[1][1] < resumed_s - stall_s / 2
