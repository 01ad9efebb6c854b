"""What `bms monitor` makes of the telemetry it hears."""

from __future__ import annotations

import pytest
from rich.console import Console

from master.telemetry.monitor import MonitorModel
from master.telemetry.monitor_cli import parse_broker
from master.telemetry.payloads import pack_bytes


def model_with(*messages: tuple[str, dict[str, object]]) -> MonitorModel:
    model = MonitorModel("bms")
    for topic, payload in messages:
        model.on_message(topic, pack_bytes(payload))
    return model


def test_events_are_shown_once_by_id() -> None:
    event = {"id": 7, "t": 1.0, "text": "cell_overvoltage_msl set"}
    model = model_with(("bms/p1/events", event), ("bms/p1/events", event),
                       ("bms/p1/events", {**event, "id": 8}))
    pack = model.packs["p1"]
    assert [e["id"] for e in pack.events] == [7, 8]
    assert pack.duplicates == 1


def test_packs_state_and_a_summary_line() -> None:
    model = model_with(
        ("bms/p1/online", {"t": 1.0, "online": True}),
        ("bms/p1/state", {"t": 1.0, "state": "NORMAL", "voltage_v": 401.5, "current_a": -20.0,
                          "soc_pct": 55.0, "faults": []}),
        ("bms/p2/online", {"t": 1.0, "online": False}))
    assert model.text().splitlines() == [
        "p1: online NORMAL 401.5 V -20.0 A SOC 55.0 % faults - events 0",
        "p2: offline ? - - SOC - faults - events 0"]


def test_foreign_and_broken_messages_are_not_taken() -> None:
    model = MonitorModel("bms")
    model.on_message("bms/p1/state", b"\xc1")  # not msgpack
    model.on_message("bms/p1/state", bytes([0x81, 0xA1, 0x76, 0x02]))  # {"v": 2}
    model.on_message("other/p1/state", pack_bytes({"state": "NORMAL"}))
    model.on_message("bms/p1/command", pack_bytes({"command": "fault_reset"}))
    assert model.packs == {}
    assert model.rejected == 2


def test_the_live_view_renders_cells_and_limits() -> None:
    model = model_with(
        ("bms/p1/cells", {"t": 1.0, "cells_per_module": 2, "voltages_mv": [3700, 3712, None, 3690],
                          "temperatures_degc": [24.5, 26.0]}),
        ("bms/p1/limits", {"t": 1.0, "charge_a": 50.0, "discharge_a": 120.0,
                           "charge_limiter": "soc", "discharge_limiter": "maximum"}),
        ("bms/p1/state", {"t": 1.0, "soc_pct": 55.0, "soc_sigma_pct": 0.4}))
    console = Console(record=True, width=120)
    console.print(model.render())
    text = console.export_text()
    assert "min 3690 mV (m1 c1), max 3712 mV (m0 c1), spread 22 mV, 1 invalid" in text
    assert "24.5..26.0 degC" in text
    assert "charge 50.0 A (soc)" in text
    assert "55.0 % +-1.2 (3 sigma)" in text


@pytest.mark.parametrize(("url", "expected"), [
    ("mqtt://monitor@broker:1884", ("broker", 1884, "monitor", False)),
    ("mqtts://broker", ("broker", 8883, None, True)),
    ("mqtt://127.0.0.1", ("127.0.0.1", 1883, None, False)),
])
def test_broker_urls(url: str, expected: tuple[str, int, str | None, bool]) -> None:
    assert parse_broker(url) == expected


@pytest.mark.parametrize("url", ["http://broker", "mqtt://", "mqtt://broker:99999"])
def test_bad_broker_urls(url: str) -> None:
    with pytest.raises(ValueError, match=url.split(":")[0]):
        parse_broker(url)
