"""The direct paths (dbc/codec/direct.py): ModuleStatus's decoder and encoder give what the
general path gives (the arrays' are in test_arrays)."""

from __future__ import annotations

import random

import cantools
import pytest

from dbc.codec import pack_codec
from dbc.codec.direct import module_status_decoder, module_status_encoder
from dbc.codec.layout import MessageLayout
from dbc.database import dbc_path
from dbc.errors import DecodeError, EncodeError
from dbc.frames import AfeState, ModuleFault, ModuleStatus


def test_module_status_decodes_as_the_general_path() -> None:
    layout = pack_codec().layout_of(ModuleStatus)
    direct = module_status_decoder(layout)
    assert direct is not None
    rng = random.Random(1)
    checked = rejected = 0
    for _ in range(3000):
        data = bytes(rng.randrange(256) for _ in range(layout.length))
        try:
            expected = ModuleStatus.from_signals(layout.fast.decode(data), layout)
        except ValueError:  # an AfeState the value table does not have
            with pytest.raises(ValueError, match="AfeState"):
                direct(data)
            rejected += 1
            continue
        got = direct(data)
        assert got == expected
        assert type(got.faults) is ModuleFault
        assert type(got.afe_state) is AfeState
        assert type(got.module_voltage_v) is type(expected.module_voltage_v)
        checked += 1
    assert checked > 500
    assert rejected > 500


def _general_payload(frame: ModuleStatus) -> bytes:
    layout = pack_codec().layout_of(ModuleStatus)
    signals = frame.to_signals(layout)
    signals["E2E_CRC"] = signals["E2E_AliveCounter"] = 0
    return layout.encoder.encode(signals)


def test_module_status_encodes_as_the_general_path() -> None:
    layout = pack_codec().layout_of(ModuleStatus)
    direct = module_status_encoder(layout)
    assert direct is not None
    rng = random.Random(2)
    for _ in range(3000):
        frame = ModuleStatus(rng.choice(list(AfeState)), rng.randrange(1 << 18),
                             rng.uniform(-10.0, 200.0),  # saturated beyond the range
                             ModuleFault(rng.randrange(1 << len(ModuleFault))))
        assert direct(frame) == _general_payload(frame)


def test_the_codec_refuses_a_module_status_the_dbc_cannot_carry() -> None:
    codec = pack_codec()
    with pytest.raises(EncodeError, match="BalancingCells"):
        codec.encode(ModuleStatus(AfeState.MEASURING, 1 << 18, 50.0, ModuleFault.NONE), 1)
    frame = codec.encode(ModuleStatus(AfeState.MEASURING, 5, 50.0, ModuleFault.OPEN_WIRE), 1)
    assert codec.decode(frame).frame == ModuleStatus(AfeState.MEASURING, 5, 50.0,
                                                     ModuleFault.OPEN_WIRE)
    bad_state = bytes([frame.data[0], frame.data[1] | 0xF0, *frame.data[2:]])
    with pytest.raises(DecodeError, match="AfeState"):
        codec.decode(frame._replace(data=bad_state))


def test_module_status_with_a_signal_more_in_the_dbc_takes_the_general_path() -> None:
    text = dbc_path("pack.dbc").read_text()
    spare = ' SG_ FaultInternal : 54|1@1+ (1,0) [0|1] "" Master,Observer\n'
    assert spare in text
    text = text.replace(spare, spare + ' SG_ Spare : 55|1@1+ (1,0) [0|1] "" Master,Observer\n')
    message = cantools.database.load_string(text, database_format="dbc").get_message_by_name(
        "ModuleStatus")
    layout = MessageLayout(message)
    assert module_status_decoder(layout) is None
    assert module_status_encoder(layout) is None
