"""The kernel receive filter of udp_multicast sockets: its program run by a classic BPF
interpreter written here (what the kernel does with it), then in the kernel itself."""

from __future__ import annotations

import time
import uuid

import can
import msgpack
import pytest
from can.interfaces.udp_multicast.utils import pack_message

from bms import multicast_filter
from bms.can_port import CanPort
from dbc.codec import CanFrame
from testbed.waiting import wait_until

UDP_HEADER = bytes(8)
WANTED = frozenset({0x005, 0x07F, 0x080, 0x0FF, 0x100, 0x623, 0x7FF})


def run_bpf(code: list[multicast_filter.Instruction], packet: bytes) -> int:
    """Classic BPF as the kernel runs the subset the filter uses: loads past the end of the
    packet end the program with 0 (drop)."""
    accumulator, pc = 0, 0
    for _ in range(10_000):
        op, jt, jf, k = code[pc]
        pc += 1
        if op in (0x20, 0x28, 0x30):  # ld [k]: word, half, byte, big-endian
            size = {0x20: 4, 0x28: 2, 0x30: 1}[op]
            if k + size > len(packet):
                return 0
            accumulator = int.from_bytes(packet[k:k + size], "big")
        elif op == 0x05:  # ja
            pc += k
        elif op in (0x15, 0x25):  # jeq, jgt
            taken = accumulator == k if op == 0x15 else accumulator > k
            pc += jt if taken else jf
        elif op == 0x06:  # ret
            return k
        else:
            raise AssertionError(f"unexpected opcode 0x{op:02x}")
    raise AssertionError("the program did not end")


def keeps(code: list[multicast_filter.Instruction], message: can.Message) -> bool:
    return run_bpf(code, UDP_HEADER + pack_message(message)) != 0


def test_python_cans_layout_is_recognised() -> None:
    assert multicast_filter.id_offset() is not None


@pytest.mark.parametrize("timestamp", [0.0, 1_764_000_000.123456, 12.5])
def test_the_program_keeps_exactly_the_wanted_standard_ids(timestamp: float) -> None:
    offset = multicast_filter.id_offset()
    assert offset is not None
    code = multicast_filter.program(WANTED, offset)
    # every 11-bit id, each msgpack encoding of an id (fixint, uint8, uint16) included
    kept = {i for i in range(0x800)
            if keeps(code, can.Message(timestamp=timestamp, arbitration_id=i, data=b"\x01",
                                       is_extended_id=False))}
    assert kept == WANTED


def test_extended_ids_are_dropped_unless_their_number_is_wanted() -> None:
    offset = multicast_filter.id_offset()
    assert offset is not None
    code = multicast_filter.program(WANTED, offset)
    for extended_id in (0x1806E5F4, 0x10000, 0x1FFFFFFF, 0x1234):
        assert not keeps(code, can.Message(arbitration_id=extended_id, is_extended_id=True))
    # python-can's own filter (still set) tells this one from the standard 0x623
    assert keeps(code, can.Message(arbitration_id=0x623, is_extended_id=True))


def test_datagrams_of_another_layout_are_kept() -> None:
    offset = multicast_filter.id_offset()
    assert offset is not None
    code = multicast_filter.program(WANTED, offset)
    reordered = msgpack.packb({"arbitration_id": 0x321, "timestamp": 1.0, "data": b"\x00" * 64,
                               "is_extended_id": False}, use_bin_type=True)
    assert run_bpf(code, UDP_HEADER + reordered) != 0  # another format: not ours to judge
    assert run_bpf(code, UDP_HEADER + b"\x00" * 80) != 0
    assert run_bpf(code, UDP_HEADER + b"\x8b") == 0  # too short to hold an id


def test_the_largest_id_set_still_jumps_within_reach() -> None:
    offset = multicast_filter.id_offset()
    assert offset is not None
    ids = frozenset(range(0x100, 0x100 + multicast_filter.MAX_IDS))
    code = multicast_filter.program(ids, offset)
    assert all(jt <= 255 and jf <= 255 for _, jt, jf, _ in code)
    assert keeps(code, can.Message(arbitration_id=max(ids), is_extended_id=False))
    assert not keeps(code, can.Message(arbitration_id=max(ids) + 1, is_extended_id=False))
    with pytest.raises(ValueError, match="1 to 250 ids"):
        multicast_filter.program(ids | {0x7FF}, offset)
    with pytest.raises(ValueError, match="1 to 250 ids"):
        multicast_filter.program(frozenset(), offset)


def test_elsewhere_than_linux_the_socket_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def touched(*args: object) -> None:
        raise AssertionError("the socket was touched")

    monkeypatch.setattr("sys.platform", "darwin")
    monkeypatch.setattr(multicast_filter, "attach", touched)
    monkeypatch.setattr(multicast_filter, "detach", touched)
    assert not multicast_filter.apply(3, WANTED)


def multicast() -> dict[str, object]:
    # a group and port of its own, so that no other test's frames arrive
    return {"interface": "udp_multicast", "channel": "239.74.163.99",
            "port": 40000 + uuid.uuid4().int % 20000, "hop_limit": 0}


SENT = (0x100, 0x623, 0x624, 0x005, 0x006, 0x0C8, 0x7FF)


@pytest.mark.multiprocess
def test_the_kernel_drops_what_the_filter_does_not_want() -> None:
    kwargs = multicast()
    receiver = can.Bus(**kwargs, ignore_config=True)
    sender = can.Bus(**kwargs, ignore_config=True)
    try:
        # no python-can filter on the receiver: whatever is missing, the kernel dropped
        assert multicast_filter.apply(receiver.fileno(), frozenset({0x623, 0x005, 0x7FF}))
        for arbitration_id in SENT:
            sender.send(can.Message(arbitration_id=arbitration_id, is_extended_id=False))
        sender.send(can.Message(arbitration_id=0x1806E5F4, is_extended_id=True))
        received = []
        deadline = time.monotonic() + 2.0
        while len(received) < 3 and time.monotonic() < deadline:
            message = receiver.recv(timeout=0.1)
            if message is not None:
                received.append(message.arbitration_id)
        assert receiver.recv(timeout=0.2) is None  # nothing else came through
        assert received == [0x623, 0x005, 0x7FF]
        # without the filter every frame arrives again
        assert not multicast_filter.apply(receiver.fileno(), None)
        sender.send(can.Message(arbitration_id=0x624, is_extended_id=False))
        message = receiver.recv(timeout=2.0)
        assert message is not None
        assert message.arbitration_id == 0x624
    finally:
        sender.shutdown()
        receiver.shutdown()


@pytest.mark.multiprocess
async def test_a_port_filters_in_the_kernel_only_when_every_subscriber_names_its_ids() -> None:
    kwargs = multicast()
    received: list[int] = []
    async with CanPort(kwargs, "sender") as sender, CanPort(kwargs, "receiver") as receiver:
        receiver.subscribe(lambda frame, now: received.append(frame.arbitration_id),
                           frozenset({0x623, 0x005}))
        assert receiver.statistics.kernel_filter_ids == 2
        for arbitration_id in SENT:
            assert sender.send(CanFrame(arbitration_id, b"\x01"))
        await wait_until(lambda: len(received) == 2, 2.0, "the wanted frames")
        assert received == [0x623, 0x005]
        receiver.subscribe(lambda frame, now: None)  # wants everything: no kernel filter
        assert receiver.statistics.kernel_filter_ids == 0
        assert sender.send(CanFrame(0x624, b"\x02"))
        await wait_until(lambda: receiver.statistics.rx_frames == 3, 2.0, "0x624 too")
    assert sender.statistics.kernel_filter_ids == 0  # it never subscribed
