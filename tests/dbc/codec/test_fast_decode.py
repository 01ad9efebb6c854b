"""The fast decoder agrees with cantools on every message of every DBC file."""

import random

import cantools
import pytest

from dbc.codec import inverter_codec, pack_codec, sim_codec, vehicle_codec
from dbc.codec.fast_decode import FastDecoder
from dbc.database import INVERTER_DBCS
from tests.dbc.codec.test_fast_encode import random_signals
from tests.dbc.reference import cantools_message

LAYOUTS = [layout for codec in (pack_codec(), vehicle_codec(), sim_codec(),
                              *(inverter_codec(p) for p in INVERTER_DBCS))
           for layout in codec.layouts.values()]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_agrees_with_cantools_on_random_payloads(layout) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(layout.name)
    fast = FastDecoder(layout.message)  # the cached form's, as the codec's own
    reference = cantools_message(layout.name)
    checked = 0
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(layout.length))
        if layout.multiplexer is not None and rng.random() < 0.5:
            # a page the DBC defines: random bytes rarely hit one of a sparse 8-bit
            # multiplexer (the IVT-S's commands: 10 of 256 values)
            data = reference.encode(random_signals(reference, rng), strict=True)
        try:
            expected = reference.decode_simple(data, decode_choices=False)
        except cantools.database.DecodeError:
            with pytest.raises(KeyError):  # an undefined multiplexer value
                fast.decode(data)
            continue
        assert fast.decode(data) == pytest.approx(expected)
        assert {k: type(v) for k, v in fast.decode(data).items()} == \
            {k: type(v) for k, v in expected.items()}
        checked += 1
    assert checked > 30
