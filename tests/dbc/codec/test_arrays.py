"""The generated array decoders and encoders give exactly what the general path gives."""

import random
from typing import Any

import pytest

from dbc.codec import arrays, pack_codec
from dbc.codec.direct import direct_decoder, direct_encoder
from dbc.errors import EncodeError
from dbc.frames import CellTemperatures, CellVoltages

ARRAYS = [CellVoltages, CellTemperatures]


@pytest.mark.parametrize("frame_type", ARRAYS, ids=lambda t: t.__name__)
def test_same_frames_as_the_general_path(frame_type) -> None:  # type: ignore[no-untyped-def]
    layout = pack_codec().layout(frame_type.MESSAGE)
    direct = direct_decoder(frame_type, layout)
    assert direct is not None
    rng = random.Random(frame_type.__name__)
    names = layout.indexed_signals(frame_type.PREFIX)
    invalid = {layout.invalid_raw(name) for name in names.values()} - {None}
    assert invalid  # the invalid marker is among the payloads below
    pages = list(layout.array_groups(frame_type.PREFIX))
    checked = invalid_seen = 0
    for _ in range(2000):
        data = bytearray(rng.randrange(256) for _ in range(layout.length))
        if rng.random() < 0.5:  # an invalid element now and then
            data[rng.randrange(2, layout.length)] = 0xFF
            data[rng.randrange(2, layout.length)] = 0xFF
        page = int(layout.fast.multiplexer.read(int.from_bytes(data, "little"), 0))
        if page not in pages:
            with pytest.raises(KeyError):
                direct(bytes(data))
            continue
        expected = frame_type.from_signals(layout.fast.decode(bytes(data)), layout)
        got = direct(bytes(data))
        assert got == expected
        values = getattr(got, frame_type.FIELDS[1])
        assert [type(v) for v in values] == \
            [type(v) for v in getattr(expected, frame_type.FIELDS[1])]
        invalid_seen += None in values
        checked += 1
    assert checked > 300
    assert invalid_seen > 50


def test_the_codec_decodes_arrays_with_them() -> None:
    codec = pack_codec()
    frame = codec.encode(CellVoltages(4, (3700, None, 3650, 4000)), module_id=3, counter=5)
    assert codec.decode(frame).frame == CellVoltages(4, (3700, None, 3650, 4000))
    frame = codec.encode(CellTemperatures(0, (25.3, -12.5, None, 40.0)), module_id=1)
    assert codec.decode(frame).frame == CellTemperatures(0, (25.3, -12.5, None, 40.0))


def _general_payload(frame, layout) -> bytes:  # type: ignore[no-untyped-def]
    signals = frame.to_signals(layout)
    signals["E2E_CRC"] = signals["E2E_AliveCounter"] = 0
    return layout.encoder.encode(signals)


@pytest.mark.parametrize("frame_type", ARRAYS, ids=lambda t: t.__name__)
def test_same_bytes_as_the_general_path(frame_type) -> None:  # type: ignore[no-untyped-def]
    layout = pack_codec().layout(frame_type.MESSAGE)
    direct = direct_encoder(frame_type, layout)
    assert direct is not None
    rng = random.Random(frame_type.__name__)
    groups = layout.array_groups(frame_type.PREFIX)
    span = layout.range_of(layout.indexed_signals(frame_type.PREFIX)[0])
    width = span.maximum - span.minimum
    integer = frame_type is CellVoltages
    saturated = 0
    for _ in range(2000):
        indices = groups[rng.choice(list(groups))]
        values = []
        for _ in range(rng.randint(1, len(indices))):  # a short group is padded
            value = rng.uniform(span.minimum - 0.1 * width, span.maximum + 0.1 * width)
            values.append(None if rng.random() < 0.1 else
                          round(value) if integer and rng.random() < 0.5 else value)
        saturated += any(v is not None and not span.minimum <= v <= span.maximum
                         for v in values)
        frame = frame_type(indices[0], tuple(values))
        assert direct(frame) == _general_payload(frame, layout), frame
    assert saturated > 100


@pytest.mark.parametrize("frame", [
    CellVoltages(1, (3700,)), CellVoltages(0, (3700,) * 5), CellTemperatures(3, (20.0,)),
    CellTemperatures(0, (float("nan"),)),
])
def test_what_the_general_path_refuses_is_refused(frame) -> None:  # type: ignore[no-untyped-def]
    layout = pack_codec().layout(frame.MESSAGE)
    with pytest.raises(ValueError, match=r"group|NaN"):
        _general_payload(frame, layout)
    with pytest.raises(ValueError, match=r"group|NaN"):
        direct_encoder(type(frame), layout)(frame)
    with pytest.raises(EncodeError):
        pack_codec().encode(frame)


def test_the_compiled_builds_module_holds_the_same_functions() -> None:
    """What `bms compiled build` compiles: every function the codecs wrote, under its source
    text, giving what the exec'd function gives (run here as plain Python)."""
    codec = pack_codec()
    namespace: dict[str, Any] = {}
    exec(arrays.module_source(), namespace)  # the module mypyc compiles
    written = namespace["FUNCTIONS"]
    assert set(written) == set(arrays.sources)
    by_name = {arrays.sources[text][0]: function for text, function in written.items()}
    for frame in (CellVoltages(8, (3301, None, 4700, 400)),
                  CellTemperatures(4, (25.3, -41.0, None))):
        layout = codec.layout_of(type(frame))
        payload = codec._direct_encoders[layout.name](frame)
        assert by_name[f"encode_{layout.name}"](frame) == payload
        assert by_name[f"decode_{layout.name}"](payload) == \
            codec._direct[layout.name](payload) == frame.__class__.from_signals(
                layout.fast.decode(payload), layout)
