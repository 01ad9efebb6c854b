"""The IVT-S's commands and replies byte for byte against the documented frames.

Sources (docs/PROTOCOLS.md, section 3):
- the Isabellenhuette DBC `IVT-S_12082020.dbc`, as foxBMS 2 ships it
  (foxBMS/foxbms-2, tools/dbc/third-party/isabellenhuette/): the layouts of IVT_Msg_Cmd
  (0x411) and IVT_Msg_Response (0x511);
- openinverter's ZombieVerter VCU (damienmaguire/Stm32-vcu, src/isa_shunt.cpp,
  `ISA::initialize`, `STOP`, `sendSTORE`, `START`): the frames its start-up sends.
"""

from __future__ import annotations

import pytest

from dbc.codec import CanFrame, pack_codec
from dbc.ivt import (
    IvtCommandRefused,
    IvtCurrent,
    IvtFlag,
    IvtModeReply,
    IvtQuantity,
    IvtResultConfig,
    IvtResultConfigReply,
    IvtSetMode,
    IvtStore,
    IvtStoreReply,
    IvtTrigger,
    echo_of,
)


def encoded(frame: object) -> CanFrame:
    return pack_codec().encode(frame)  # type: ignore[arg-type]


@pytest.mark.parametrize(("frame", "data"), [
    # ISA::STOP: stop now (byte 1 bit 0 = 0), run after power-up (byte 2 bit 0 = 1)
    (IvtSetMode(run=False, run_at_startup=True), "34 00 01 00 00 00 00 00"),
    # ISA::START
    (IvtSetMode(run=True, run_at_startup=True), "34 01 01 00 00 00 00 00"),
    # ISA::sendSTORE
    (IvtStore(), "32 00 00 00 00 00 00 00"),
    # ISA::initialize, result 0 (current): 0x42 = cyclic (bits 1..0 = 2) with bit 6 set,
    # period 0x0064 = 100 ms; the same project then reads the value bytes little-endian
    (IvtResultConfig(IvtQuantity.I, IvtTrigger.CYCLIC, 100, little_endian=True),
     "20 42 00 64 00 00 00 00"),
    # ISA::initCurrent: result 1 (U1), 0x0161 = 353 ms
    (IvtResultConfig(IvtQuantity.U1, IvtTrigger.CYCLIC, 353, little_endian=True),
     "21 42 01 61 00 00 00 00"),
])
def test_the_start_up_frames_of_another_project(frame: object, data: str) -> None:
    sent = encoded(frame)
    assert (sent.arbitration_id, sent.data.hex(" ")) == (0x411, data)
    assert pack_codec().decode(sent).frame == frame


def test_what_this_project_sends_differs_from_it_only_in_the_byte_order_bit() -> None:
    # big-endian (bit 6 clear), what ivt_s.dbc decodes; 10 ms for the current
    assert encoded(IvtResultConfig(IvtQuantity.I, IvtTrigger.CYCLIC, 10)).data.hex(" ") == \
        "20 02 00 0a 00 00 00 00"
    # every result has its command id: 0x20 + result id (vendor DBC: 0x20 I .. 0x27 Wh)
    ids = [encoded(IvtResultConfig(q, IvtTrigger.DISABLED, 0)).data[0] for q in IvtQuantity]
    assert ids == list(range(0x20, 0x28))


@pytest.mark.parametrize(("data", "reply"), [
    ("a0 02 00 0a 00 00 00 00", IvtResultConfigReply(IvtQuantity.I, IvtTrigger.CYCLIC, 10)),
    ("a7 40 00 00 00 00 00 00",
     IvtResultConfigReply(IvtQuantity.WH, IvtTrigger.DISABLED, 0, little_endian=True)),
    # the vendor's store reply carries the serial number in bytes 2..5: not decoded
    ("b2 00 12 34 56 78 00 00", IvtStoreReply()),
    ("b4 01 01 00 00 00 00 00", IvtModeReply(run=True, run_at_startup=True)),
    ("ff 20 00 00 00 00 00 00", IvtCommandRefused(0x20)),
])
def test_replies_are_the_command_id_plus_0x80(data: str, reply: object) -> None:
    assert pack_codec().decode(CanFrame(0x511, bytes.fromhex(data))).frame == reply


def test_a_reply_echoes_its_command_and_never_equals_it() -> None:
    command = IvtResultConfig(IvtQuantity.U2, IvtTrigger.CYCLIC, 100)
    echo = echo_of(command)
    assert echo == IvtResultConfigReply(IvtQuantity.U2, IvtTrigger.CYCLIC, 100)
    assert echo != command
    assert encoded(echo).data[0] == encoded(command).data[0] + 0x80
    assert echo_of(IvtSetMode(run=False)) == IvtModeReply(run=False)
    assert echo_of(IvtStore()) == IvtStoreReply()


def test_trigger_modes_are_the_value_table() -> None:
    layout = pack_codec().layout_of(IvtResultConfig)
    for quantity in IvtQuantity:
        table = layout.choices(f"IVT_Conf_TriggerMode_{quantity.value}")
        assert {label.upper(): raw for raw, label in table.items()} == \
            {member.name: member.value for member in IvtTrigger}


def test_a_little_endian_value_read_big_endian_is_the_bug_of_the_issue() -> None:
    """-1 A from a sensor left little-endian, read as this DBC says: +419,233 A."""
    layout = pack_codec().layout_of(IvtCurrent)
    start, stop = layout.byte_span("IVT_Result_I")
    assert (start, stop) == (2, 6)
    big = encoded(IvtCurrent(0, IvtFlag.NONE, -1000))
    little = big.data[:start] + big.data[start:stop][::-1] + big.data[stop:]
    assert little.hex(" ") == "00 00 18 fc ff ff"
    misread = pack_codec().decode(CanFrame(big.arbitration_id, little)).frame
    assert isinstance(misread, IvtCurrent)
    assert misread.current_ma == 0x18FCFFFF == 419_233_791


def test_an_unknown_trigger_mode_is_a_malformed_reply() -> None:
    from dbc.errors import DecodeError, DecodeFailure

    with pytest.raises(DecodeError) as raised:
        pack_codec().decode(CanFrame(0x511, bytes.fromhex("a0 03 00 0a 00 00 00 00")))
    assert raised.value.failure is DecodeFailure.MALFORMED
