"""Decoding never trusts a frame: every kind of bad input is a counted DecodeError."""

import random
import tracemalloc

import pytest

from dbc.codec import CanFrame, pack_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.errors import DecodeError, DecodeFailure, EncodeError
from dbc.frames import (
    AfeState,
    BalancingCommand,
    CellVoltages,
    MasterHeartbeat,
    MasterState,
    ModuleFault,
    ModuleStatus,
)
from dbc.ivt import IvtCurrent, IvtFlag


def test_ivt_example_frame_from_the_protocol() -> None:
    # docs/PROTOCOLS.md section 3: current, counter 2, over-current flag, -1000 mA
    decoded = pack_codec().decode(CanFrame(0x521, bytes.fromhex("0012FFFFFC18")))
    assert decoded.frame == IvtCurrent(2, IvtFlag.OVER_CURRENT, -1000)
    assert pack_codec().encode(decoded.frame).data == bytes.fromhex("0012FFFFFC18")


def test_ivt_channel_error_invalidates_the_value() -> None:
    assert not IvtCurrent(0, IvtFlag.CHANNEL_ERROR, 5).valid
    assert not IvtCurrent(0, IvtFlag.SYSTEM_ERROR, 5).valid
    assert IvtCurrent(0, IvtFlag.OVER_CURRENT, 5).valid


def test_module_id_is_the_offset_from_the_base_id() -> None:
    codec = pack_codec()
    frame = codec.encode(CellVoltages(0, (3700,)), module_id=9)
    assert frame.arbitration_id == codec.layout("CellVoltages").base_id + 9
    assert codec.decode(frame).module_id == 9


@pytest.mark.parametrize(
    ("frame", "failure"),
    [
        (CanFrame(0x7FF, bytes(8)), DecodeFailure.UNKNOWN_ID),
        (CanFrame(0x620, bytes(8), is_extended_id=True), DecodeFailure.UNKNOWN_ID),
        (CanFrame(0x021, bytes(4)), DecodeFailure.BAD_MODULE_ID),  # heartbeat has one sender
        (CanFrame(0x620, bytes(7)), DecodeFailure.WRONG_LENGTH),
        (CanFrame(0x620, bytes(9)), DecodeFailure.WRONG_LENGTH),
        (CanFrame(0x620, bytes([0, 0xF0, 0, 0, 0, 0, 0, 0])), DecodeFailure.MALFORMED),  # group 15
        (CanFrame(0x020, bytes([0, 0xF0, 0, 0])), DecodeFailure.MALFORMED),  # state 15
    ],
)
def test_bad_frames_raise_decode_errors(frame: CanFrame, failure: DecodeFailure) -> None:
    with pytest.raises(DecodeError) as info:
        pack_codec().decode(frame)
    assert info.value.failure is failure


def test_receiver_counts_instead_of_raising() -> None:
    receiver = FrameReceiver(pack_codec(), 2, node="Master")
    assert receiver.receive(CanFrame(0x7FF, bytes(8))) is None
    assert receiver.receive(CanFrame(0x620, bytes(3))) is None
    assert receiver.failures[DecodeFailure.UNKNOWN_ID] == 1
    assert receiver.failures[DecodeFailure.WRONG_LENGTH] == 1


def test_receiver_drops_messages_its_node_does_not_receive() -> None:
    codec = pack_codec()
    receiver = FrameReceiver(codec, 2, node="Master")
    own = FrameSender(codec).encode(MasterHeartbeat(MasterState.STANDBY, False))
    assert receiver.receive(own) is None
    assert receiver.not_for_node == 1
    assert not receiver.checkers  # no E2E state was created for it


def test_receiver_rejects_bad_crc_before_decoding() -> None:
    codec = pack_codec()
    good = FrameSender(codec).encode(CellVoltages(0, (3700, 3700, 3700, 3700)), 1)
    corrupted = CanFrame(good.arbitration_id, bytes([good.data[0] ^ 1]) + good.data[1:])
    reception = FrameReceiver(codec, 2, node="Master").receive(corrupted)
    assert reception is not None
    assert reception.frame is None
    assert reception.e2e is not None
    assert reception.e2e.is_error


def test_the_receivers_error_count_is_its_checkers_total() -> None:
    codec = pack_codec()
    sender, receiver = FrameSender(codec), FrameReceiver(codec, 2, node="Master")
    rng = random.Random(5)
    for step in range(600):
        frame = sender.encode(CellVoltages(4 * (step % 4), (3700, 3701, 3702, 3703)),
                              rng.randrange(3))
        if rng.random() < 0.1:  # a flipped bit
            frame = CanFrame(frame.arbitration_id, bytes([frame.data[0] ^ 4]) + frame.data[1:])
        if rng.random() < 0.05:
            continue  # lost
        if rng.random() < 0.05:
            receiver.receive(frame)  # and repeated below
        receiver.receive(frame)
    assert receiver.e2e_errors == receiver.total_statistics().errors > 60


def test_values_beyond_the_dbc_range_saturate() -> None:
    codec = pack_codec()
    frame = codec.decode(codec.encode(CellVoltages(0, (9999, -5, 4594, 500)))).frame
    assert frame == CellVoltages(0, (4594, 500, 4594, 500))


def test_sending_new_values_for_ever_takes_no_memory() -> None:
    """A node runs for months and sends a new module voltage every 200 ms: encoding must
    remember nothing per value (a cache of saturated values grew without end)."""
    codec = pack_codec()
    status = [ModuleStatus(AfeState.MEASURING, 0, 50.0 + i * 0.001, ModuleFault.NONE)
              for i in range(20_000)]
    codec.encode(status[0], module_id=1)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for frame in status:
            codec.encode(frame, module_id=1)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 100_000  # bytes; the cache took about 2 MB here


def test_encode_refuses_what_the_dbc_cannot_carry() -> None:
    codec = pack_codec()
    with pytest.raises(EncodeError, match="module id"):
        codec.encode(CellVoltages(0, (3700,)), module_id=32)
    with pytest.raises(EncodeError, match="module id"):
        codec.encode(MasterHeartbeat(MasterState.INIT, False), module_id=1)
    with pytest.raises(EncodeError):
        codec.encode(BalancingCommand(1 << 18, 1))  # only 18 cells per module
    with pytest.raises(EncodeError, match="no group starts"):  # a DbcError, as every refusal
        codec.encode(CellVoltages(1, (3700,)))
    with pytest.raises(EncodeError, match="not a frame of this bus"):
        codec.encode("hello")  # type: ignore[arg-type]


def test_layout_queries_are_memoised() -> None:
    """Uncached layout lookups made decoding seven times slower; keep them cached."""
    layout = pack_codec().layout("CellVoltages")
    assert layout.array_slots("CellVoltage") is layout.array_slots("CellVoltage")  # memoised


@pytest.mark.parametrize("frame", [CellVoltages(4, (3700, 3701, None, 3703)),
                                   IvtCurrent(3, IvtFlag.NONE, -2500)],
                         ids=["direct", "general"])
def test_the_listeners_of_one_frame_share_its_decoding(frame: CellVoltages | IvtCurrent) -> None:
    codec = pack_codec()
    layout = codec.layout(frame.MESSAGE)
    data = codec.encode(frame).data
    first = codec.decode_payload(layout, data)
    assert first == frame
    assert codec.decode_payload(layout, data) is first  # the same payload object: no work
    changed = bytearray(data)
    changed[4] ^= 0x01
    assert codec.decode_payload(layout, bytes(changed)) != frame
