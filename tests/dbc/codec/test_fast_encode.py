"""The fast encoder gives cantools' bytes for every message of every DBC file, and refuses
what cantools' strict mode refuses."""

import random

import pytest

from dbc.codec import inverter_codec, pack_codec, sim_codec, vehicle_codec
from dbc.codec.fast_encode import FastEncodeError, FastEncoder
from dbc.database import INVERTER_DBCS
from tests.dbc.reference import cantools_message

LAYOUTS = [layout for codec in (pack_codec(), vehicle_codec(), sim_codec(),
                              *(inverter_codec(p) for p in INVERTER_DBCS))
           for layout in codec.layouts.values()]


def random_signals(message, rng: random.Random) -> dict[str, float]:  # type: ignore[no-untyped-def]
    mux = next((s for s in message.signals if s.is_multiplexer), None)
    page = None
    if mux is not None:
        pages = sorted({v for s in message.signals for v in (s.multiplexer_ids or ())})
        page = rng.choice(pages)
    values: dict[str, float] = {}
    for signal in message.signals:
        if signal.multiplexer_ids and page not in signal.multiplexer_ids:
            continue
        if signal is mux:
            values[signal.name] = page
            continue
        low = round((signal.minimum - signal.offset) / signal.scale)
        high = round((signal.maximum - signal.offset) / signal.scale)
        raw = rng.randint(min(low, high), max(low, high))
        value = raw * signal.scale + signal.offset
        if signal.scale != 1 and rng.random() < 0.5:  # off the grid: rounding must agree
            value += rng.uniform(-0.49, 0.49) * signal.scale
            value = min(max(value, signal.minimum), signal.maximum)
        values[signal.name] = value if signal.scale != 1 or signal.offset != 0 else int(raw)
    return values


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_agrees_with_cantools_on_random_values(layout) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(layout.name)
    fast = FastEncoder(layout.message)  # the cached form's, as the codec's own
    reference = cantools_message(layout.name)
    for _ in range(200):
        signals = random_signals(reference, rng)
        assert fast.encode(signals) == reference.encode(signals, strict=True), signals


def test_refuses_what_strict_cantools_refuses() -> None:
    layout = pack_codec().layout("ContactorFeedback")
    fast = FastEncoder(layout.message)
    good = {"E2E_CRC": 0, "E2E_AliveCounter": 3, "MainPlusClosed": 1, "MainMinusClosed": 0,
            "PrechargeClosed": 0, "FuseBlown": 0, "BusVoltage": 400.0, "AuthChallenge": 0}
    assert fast.encode(good) == cantools_message(layout.name).encode(good, strict=True)
    with pytest.raises(FastEncodeError, match=r"BusVoltage.*outside"):
        fast.encode({**good, "BusVoltage": 7000.0})
    with pytest.raises(FastEncodeError, match=r"FuseBlown.*missing"):
        fast.encode({k: v for k, v in good.items() if k != "FuseBlown"})
    with pytest.raises(FastEncodeError, match="unknown signal Nonsense"):
        fast.encode({**good, "Nonsense": 1})


def test_an_undefined_multiplexer_value_is_refused() -> None:
    fast = FastEncoder(pack_codec().layout("CellVoltages").message)
    with pytest.raises(FastEncodeError, match="multiplexer value 9"):
        fast.encode({"E2E_CRC": 0, "E2E_AliveCounter": 0, "CellGroup": 9})
