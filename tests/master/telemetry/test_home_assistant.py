"""Home Assistant's view of a pack: every discovery config holds to what Home Assistant
documents for its entity type (the keys, device classes, units and state classes, written
here as data with where they come from), every template gives the pack's value from a real
JSON state, and the publisher puts them on the project's broker, only when asked to."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bms.endpoint_settings import MqttSettings
from bms.settings import load_settings
from dbc.frames import MasterState
from master.pack_state import Extreme
from master.persistence import restore, snapshot
from master.report import ActiveEntry, PackReport
from master.service import home_assistant_of
from master.store import Store
from master.telemetry.home_assistant import (
    BINARY_SENSOR,
    ENTITIES,
    SENSOR,
    TOTAL_INCREASING,
    Entity,
    HomeAssistant,
    PackDevice,
)
from master.telemetry.publisher import TelemetryPublisher
from sim.lockstep import LockstepPack
from testbed.brokers import PASSWORDS, ProjectBroker, project_broker
from testbed.waiting import wait_until

# --- what Home Assistant documents ------------------------------------------------------

# https://www.home-assistant.io/integrations/sensor.mqtt/ "Configuration Variables".
# `platform` is left out: "only allowed and required in MQTT auto discovery device
# messages", and these are single component messages.
SENSOR_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "device", "device_class", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "expire_after", "force_update", "icon", "json_attributes_template",
    "json_attributes_topic", "last_reset_value_template", "name", "object_id", "options",
    "payload_available", "payload_not_available", "suggested_display_precision", "qos",
    "state_class", "state_topic", "unique_id", "unit_of_measurement", "value_template"}
# https://www.home-assistant.io/integrations/binary_sensor.mqtt/ "Configuration Variables"
BINARY_SENSOR_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "device", "device_class", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "expire_after", "force_update", "icon", "json_attributes_template",
    "json_attributes_topic", "name", "object_id", "off_delay", "payload_available",
    "payload_not_available", "payload_off", "payload_on", "qos", "state_topic", "unique_id",
    "value_template"}
# https://www.home-assistant.io/integrations/mqtt/#discovery-payload: `origin` is
# recommended in every discovery payload; its keys and the device's are listed there
# ("Supported abbreviations for origin info", "... for device registry configuration").
DISCOVERY_KEYS = {"origin"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers",
               "manufacturer", "model", "model_id", "name", "serial_number", "suggested_area",
               "sw_version", "via_device"}
ALLOWED_KEYS = {SENSOR: SENSOR_KEYS | DISCOVERY_KEYS,
                BINARY_SENSOR: BINARY_SENSOR_KEYS | DISCOVERY_KEYS}
REQUIRED_KEYS = {SENSOR: {"state_topic"}, BINARY_SENSOR: {"state_topic"}}  # "required: true"
# The device classes used, with the units each accepts:
# https://www.home-assistant.io/integrations/sensor/#device-class (enum: no unit; options
# "cannot be used together with state_class or unit_of_measurement", sensor.mqtt)
ENERGY_UNITS = {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal",
                "Mcal", "Gcal"}
SENSOR_DEVICE_CLASS_UNITS: dict[str | None, set[str | None]] = {
    "battery": {"%"},
    "current": {"A", "mA"},
    "energy": ENERGY_UNITS,
    "energy_storage": ENERGY_UNITS,
    "enum": {None},
    "power": {"mW", "W", "kW", "MW", "GW", "TW"},
    "temperature": {"°C", "°F", "K"},
    "voltage": {"V", "mV", "µV", "kV", "MV"},
}
# https://www.home-assistant.io/integrations/binary_sensor/#device-class
BINARY_SENSOR_DEVICE_CLASSES = {"problem"}
# https://developers.home-assistant.io/docs/core/entity/sensor#available-state-classes
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
# what Home Assistant accepts per device class: DEVICE_CLASS_STATE_CLASSES in
# github.com/home-assistant/core homeassistant/components/sensor/const.py
DEVICE_CLASS_STATE_CLASSES: dict[str | None, set[str | None]] = {
    "battery": {"measurement"}, "current": {"measurement"},
    "energy": {"total", "total_increasing"}, "energy_storage": {"measurement"},
    "enum": set(), "power": {"measurement"}, "temperature": {"measurement"},
    "voltage": {"measurement"}}
# total_increasing: "a decreasing value is interpreted as the start of a new meter cycle"
# (developers.home-assistant.io, as above). Only these never decrease: the report's lifetime
# counters (CountersReport) and the full cycles, which are one of them over a constant.
NEVER_DECREASING = {"charged_kwh", "discharged_kwh", "full_cycles"}
# https://www.home-assistant.io/integrations/mqtt/#discovery-topic
ID_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

# --- a pack -------------------------------------------------------------------------------

PACK = "garage.1"  # a '.' is not allowed in a discovery topic's ids
CAPACITY_AH = 100.0  # large cells: a few seconds move the counters by whole Wh
SMALL = ["pack.modules=2", "pack.cells_per_module=4", "pack.temperature_sensors_per_module=2",
         f"pack.name={PACK}", f"pack.cell_capacity_ah={CAPACITY_AH}",
         "sim.vcu.start_delay_s=0.5",
         "sim.vcu.profile=[{duration_s=3, current_c=-2}, {duration_s=3, current_c=1}]"]
WALL_S = 1_790_000_000.0


def small_pack() -> LockstepPack:
    return LockstepPack(load_settings(None, SMALL))


def home_assistant(pack: LockstepPack) -> HomeAssistant:
    settings = dataclasses.replace(pack.settings, mqtt=MqttSettings(home_assistant=True))
    made = home_assistant_of(settings)
    assert made is not None
    return made


@pytest.fixture(scope="module")
def run() -> tuple[HomeAssistant, list[PackReport]]:
    """A report every second through discharge and charge (the VCU's profile)."""
    pack = small_pack()
    pack.run_until(lambda: pack.master.state is MasterState.NORMAL, 10.0)
    reports = []
    for _ in range(12):
        list(pack.run(1.0))
        reports.append(pack.master.report(pack.now_s))
    return home_assistant(pack), reports


def configs(ha: HomeAssistant) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in ha.discovery()}


def component(topic: str) -> str:
    return topic.split("/")[1]


# --- the configs --------------------------------------------------------------------------

def test_every_config_has_only_documented_keys_and_the_required_ones(
        run: tuple[HomeAssistant, list[PackReport]]) -> None:
    ha, _ = run
    for topic, config in configs(ha).items():
        kind = component(topic)
        assert set(config) <= ALLOWED_KEYS[kind], f"{topic}: {set(config) - ALLOWED_KEYS[kind]}"
        assert REQUIRED_KEYS[kind] <= set(config), topic
        assert set(config["device"]) <= DEVICE_KEYS, topic
        assert set(config["origin"]) <= ORIGIN_KEYS, topic
        assert "name" in config["origin"], topic  # "(Required)"


def test_discovery_topics_and_ids(run: tuple[HomeAssistant, list[PackReport]]) -> None:
    ha, _ = run
    found = configs(ha)
    assert len(found) == len(ENTITIES)
    for topic, config in found.items():
        prefix, kind, node_id, object_id, config_level = topic.split("/")
        assert (prefix, config_level) == ("homeassistant", "config")
        assert kind in (SENSOR, BINARY_SENSOR)
        assert set(node_id) <= ID_CHARACTERS, topic
        assert set(object_id) <= ID_CHARACTERS, topic
        assert config["device"] == {"identifiers": ["pybms_garage_1"], "name": PACK,
                                    "manufacturer": "pybms", "model": "2 x 4 NMC"}
        assert config["state_topic"] == f"bms/{PACK}/ha/state"
        assert config["availability_topic"] == f"bms/{PACK}/ha/availability"
        assert config["expire_after"] == 3  # three state periods of 1 s
    unique_ids = [config.get("unique_id") for config in found.values()]
    assert None not in unique_ids  # without one Home Assistant adds no entity at startup
    assert len(set(unique_ids)) == len(unique_ids)  # two alike: Home Assistant refuses one


def test_device_classes_units_and_state_classes_are_documented_together(
        run: tuple[HomeAssistant, list[PackReport]]) -> None:
    ha, _ = run
    for topic, config in configs(ha).items():
        device_class, unit = config.get("device_class"), config.get("unit_of_measurement")
        state_class = config.get("state_class")
        if component(topic) == BINARY_SENSOR:
            assert device_class in BINARY_SENSOR_DEVICE_CLASSES, topic
            continue
        if device_class is not None:
            assert device_class in SENSOR_DEVICE_CLASS_UNITS, topic
            assert unit in SENSOR_DEVICE_CLASS_UNITS[device_class], topic
        if state_class is not None:
            assert state_class in STATE_CLASSES, topic
            if device_class is not None:
                assert state_class in DEVICE_CLASS_STATE_CLASSES[device_class], topic
        if "options" in config:
            assert device_class == "enum", topic
            assert (unit, state_class) == (None, None), topic
        if state_class == TOTAL_INCREASING:
            assert topic.split("/")[3] in NEVER_DECREASING, f"{topic} may decrease"


def test_total_increasing_values_never_decrease_through_discharge_and_charge(
        run: tuple[HomeAssistant, list[PackReport]]) -> None:
    ha, reports = run
    states = [ha.state(report, WALL_S) for report in reports]
    for entity in ENTITIES:
        values = [state[entity.key] for state in states]
        if entity.state_class == TOTAL_INCREASING:
            assert values == sorted(values), entity.key
    # the run both charged and discharged: stored energy went down and up, so a total
    # on it, or on anything like it, would have failed here
    stored = [state["soe_kwh"] for state in states]
    assert stored != sorted(stored)
    assert stored != sorted(stored, reverse=True)
    assert states[-1]["charged_kwh"] > 0
    assert states[-1]["discharged_kwh"] > 0


def test_a_restart_continues_the_lifetime_values(tmp_path: Path) -> None:
    """A master restart reconnects with the counters it stored, not from zero: Home
    Assistant would read a drop as a new meter cycle."""
    old = small_pack()
    list(old.run(8.0))
    store = Store.open(tmp_path / "s.sqlite")
    store.save_state(snapshot(old.master))
    before = home_assistant(old).state(old.master.report(old.now_s), WALL_S)
    fresh = small_pack()
    restore(fresh.master, store)
    after = home_assistant(fresh).state(fresh.master.report(fresh.now_s), WALL_S)
    assert before["discharged_kwh"] > 0
    for key in NEVER_DECREASING:
        assert after[key] == before[key], key


# --- the templates against a real JSON state ------------------------------------------------

def render(template: str, payload: bytes) -> str:
    """As Home Assistant renders a value or attributes template: ``value`` the payload's
    text, ``value_json`` the parsed JSON, in a sandboxed Jinja environment."""
    text = payload.decode()
    environment = ImmutableSandboxedEnvironment()
    return environment.from_string(template).render(value=text, value_json=json.loads(text))


def sensor_value(rendered: str) -> float | str | None:
    """'null' sets a numeric sensor unknown (sensor.mqtt, state_topic)."""
    if rendered == "null":
        return None
    try:
        return float(rendered)
    except ValueError:
        return rendered


def value_of(extreme: Extreme | None, scale: float = 1.0) -> float:
    assert extreme is not None
    return extreme.value * scale


EXPECTED: dict[str, Callable[[PackReport], object]] = {
    "soc_pct": lambda r: None if r.estimate is None else r.estimate.soc_usable * 100,
    "soh_pct": lambda r: None if r.estimate is None else r.estimate.capacity_ratio_min * 100,
    "soe_kwh": lambda r: None if r.estimate is None else r.estimate.energy_wh / 1000,
    "voltage_v": lambda r: r.voltage_v,
    "current_a": lambda r: r.current_a,
    "power_kw": lambda r: r.voltage_v * r.current_a / 1000,
    "cell_voltage_min_v": lambda r: value_of(r.summary.min_cell_mv, 0.001),
    "cell_voltage_max_v": lambda r: value_of(r.summary.max_cell_mv, 0.001),
    "temperature_min_degc": lambda r: value_of(r.summary.min_temperature_degc),
    "temperature_max_degc": lambda r: value_of(r.summary.max_temperature_degc),
    "charge_limit_a": lambda r: r.limits.charge_a,
    "discharge_limit_a": lambda r: r.limits.discharge_a,
    "state": lambda r: r.state.name,
    "fault_active": lambda r: "ON" if r.faults else "OFF",
    "warning_active": lambda r: "ON" if r.warnings else "OFF",
    "charged_kwh": lambda r: r.counters.charged_wh / 1000,
    "discharged_kwh": lambda r: r.counters.discharged_wh / 1000,
    "full_cycles": lambda r: r.counters.discharged_ah / CAPACITY_AH,
}


def extreme_location(extreme: Extreme | None, element: str) -> dict[str, int]:
    assert extreme is not None
    return {"module": extreme.module_id, element: extreme.index}


EXPECTED_ATTRIBUTES: dict[str, Callable[[PackReport], object]] = {
    "cell_voltage_min_v": lambda r: extreme_location(r.summary.min_cell_mv, "cell"),
    "cell_voltage_max_v": lambda r: extreme_location(r.summary.max_cell_mv, "cell"),
    "temperature_min_degc": lambda r: extreme_location(r.summary.min_temperature_degc, "sensor"),
    "temperature_max_degc": lambda r: extreme_location(r.summary.max_temperature_degc, "sensor"),
    "charge_limit_a": lambda r: {"limiter": r.limits.charge_limiter},
    "discharge_limit_a": lambda r: {"limiter": r.limits.discharge_limiter},
    "fault_active": lambda r: {"entries": [e.entry for e in r.faults]},
    "warning_active": lambda r: {"entries": [e.entry for e in r.warnings]},
}


def faulted(report: PackReport) -> PackReport:
    """In ERROR with a fault and two warnings, and no estimate: binary sensors on, the
    estimate's sensors unknown."""
    return dataclasses.replace(
        report, state=MasterState.ERROR, estimate=None,
        faults=(ActiveEntry("cell_overvoltage_msl", 1, 3, 0.0),),
        warnings=(ActiveEntry("cell_voltage_spread", 0, None, 0.0),
                  ActiveEntry("slave_stale", 1, None, 0.0)))


def test_every_entity_is_checked() -> None:
    assert set(EXPECTED) == {entity.key for entity in ENTITIES}
    assert set(EXPECTED_ATTRIBUTES) == {entity.key for entity in ENTITIES if entity.attributes}


@pytest.mark.parametrize("case", ["driving", "faulted"])
@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.key)
def test_each_template_gives_the_packs_value(run: tuple[HomeAssistant, list[PackReport]],
                                             entity: Entity, case: str) -> None:
    ha, reports = run
    report = reports[-1] if case == "driving" else faulted(reports[-1])
    payload = ha.state_payload(report, WALL_S)
    config = ha.config(entity)
    value = sensor_value(render(config["value_template"], payload))
    expected = EXPECTED[entity.key](report)
    if isinstance(expected, float):
        assert value == pytest.approx(expected, abs=0.006), entity.key  # as rounded
    else:
        assert value == expected, entity.key
    if entity.component == BINARY_SENSOR:
        assert value in (config.get("payload_on", "ON"), config.get("payload_off", "OFF"))
    if "options" in config:
        assert value in config["options"]
    if entity.attributes:
        assert config["json_attributes_topic"] == config["state_topic"]
        attributes = json.loads(render(config["json_attributes_template"], payload))
        assert attributes == EXPECTED_ATTRIBUTES[entity.key](report), entity.key


def test_a_value_that_is_not_finite_is_unknown(
        run: tuple[HomeAssistant, list[PackReport]]) -> None:
    ha, reports = run
    report = dataclasses.replace(reports[-1], voltage_v=float("nan"))
    payload = ha.state_payload(report, WALL_S)  # valid JSON: no NaN in it
    voltage = next(e for e in ENTITIES if e.key == "voltage_v")
    assert render(ha.config(voltage)["value_template"], payload) == "null"


def test_off_by_default() -> None:
    assert home_assistant_of(load_settings(None, SMALL)) is None


# --- on the project's broker ----------------------------------------------------------------

@dataclasses.dataclass
class Collector:
    messages: list[tuple[str, bytes, bool]] = dataclasses.field(default_factory=list)

    def topics(self) -> set[str]:
        return {topic for topic, _, _ in self.messages}

    def json_of(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(payload) for t, payload, _ in self.messages if t == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in self.messages if t == topic]


@asynccontextmanager
async def collecting(broker: ProjectBroker, user: str = "homeassistant",
                     topics: tuple[str, ...] = ("homeassistant/#", "bms/+/ha/#"),
                     ) -> AsyncIterator[Collector]:
    """Home Assistant's side: its user, its subscriptions, the raw payloads."""
    collector = Collector()
    async with aiomqtt.Client(broker.host, broker.port, username=user,
                              password=PASSWORDS[user]) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)

        async def receive() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                collector.messages.append((str(message.topic), message.payload,
                                           bool(message.retain)))

        task = asyncio.create_task(receive(), name="collect")
        try:
            yield collector
        finally:
            task.cancel()


@asynccontextmanager
async def publishing(broker: ProjectBroker, pack_name: str,
                     ha: HomeAssistant | None) -> AsyncIterator[TelemetryPublisher]:
    settings = MqttSettings(enabled=True, host=broker.host, port=broker.port,
                            username="bms-master", reconnect_min_s=0.2, reconnect_max_s=1.0,
                            home_assistant=ha is not None)
    telemetry = TelemetryPublisher(settings, pack_name, None, ha)
    telemetry.start()
    try:
        yield telemetry
    finally:  # from a thread: the embedded broker runs on this loop
        await asyncio.to_thread(telemetry.stop)


@pytest.fixture(autouse=True)
def master_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_MQTT_PASSWORD", PASSWORDS["bms-master"])


def config_topics(ha: HomeAssistant) -> set[str]:
    return {topic for topic, _ in ha.discovery()}


async def test_the_publisher_announces_only_when_home_assistant_is_on(
        tmp_path: Path, run: tuple[HomeAssistant, list[PackReport]]) -> None:
    ha, reports = run
    async with project_broker(tmp_path / "broker") as broker:
        async with collecting(broker) as seen:
            async with publishing(broker, "plain-pack", None) as plain:
                await wait_until(lambda: plain.statistics.connected, 10.0, "connected")
                plain.live("bms/plain-pack/cells", b"\x80")
                await wait_until(lambda: plain.statistics.live_published == 1, 5.0, "cells")
            # the plain pack stopped (its last message acknowledged) before this one
            # connects: anything it had sent Home Assistant would have arrived first
            async with publishing(broker, PACK, ha) as telemetry:
                await wait_until(lambda: telemetry.statistics.connected, 10.0, "connected")
                telemetry.live(ha.state_topic, ha.state_payload(reports[-1], time.time()))
                await wait_until(lambda: config_topics(ha) | {ha.state_topic} <= seen.topics(),
                                 5.0, "every config and the state")
            await wait_until(lambda: seen.payloads(ha.availability_topic)[-1:] == [b"offline"],
                             5.0, "offline after a clean stop")
        assert seen.payloads(ha.availability_topic) == [b"online", b"offline"]
        assert plain.statistics.discovery_published == 0
        assert not any("plain-pack" in topic for topic in seen.topics())
        state = seen.json_of(ha.state_topic)[-1]
        assert state["voltage_v"] == pytest.approx(reports[-1].voltage_v, abs=0.006)
        # what a Home Assistant that starts now gets: the retained configs, state and
        # availability of this pack, and nothing of the plain one
        async with collecting(broker) as later:
            expected = config_topics(ha) | {ha.state_topic, ha.availability_topic}
            await wait_until(lambda: expected <= later.topics(), 5.0, "the retained messages")
        assert all(retained for _, _, retained in later.messages)
        assert later.topics() == expected
        assert later.payloads(ha.availability_topic) == [b"offline"]
        assert {topic: json.loads(payload) for topic, payload, _ in later.messages
                if topic in config_topics(ha)} == configs(ha)


async def test_across_a_reconnect_the_counters_go_on_and_the_unique_ids_stay(
        tmp_path: Path) -> None:
    """The broker restarts: the master announces again (a broker without persistence
    has forgotten the configs) with the same unique ids (other ids: duplicate entities), and
    what Home Assistant reads of the lifetime counters never goes back (a drop would be a
    new meter cycle to it)."""
    pack = small_pack()
    pack.run_until(lambda: pack.master.state is MasterState.NORMAL, 10.0)
    ha = home_assistant(pack)
    stop = asyncio.Event()

    async def control_loop(telemetry: TelemetryPublisher) -> None:
        while not stop.is_set():
            list(pack.run(0.5))
            telemetry.live(ha.state_topic,
                           ha.state_payload(pack.master.report(pack.now_s), time.time()))
            await asyncio.sleep(0.02)  # the loop's pace, not a wait for anything

    broker = ProjectBroker(tmp_path / "broker")
    broker.configure()
    await broker.start()
    sessions: list[Collector] = []
    try:
        async with publishing(broker, PACK, ha) as telemetry:
            loop = asyncio.create_task(control_loop(telemetry), name="control-loop")
            for connects in (1, 2):
                async with collecting(broker) as seen:
                    await wait_until(lambda n=connects: telemetry.statistics.connects == n
                                     and telemetry.statistics.connected, 10.0, "connected")
                    await wait_until(lambda: config_topics(ha) <= seen.topics()
                                     and len(seen.json_of(ha.state_topic)) >= 5, 10.0,
                                     "the configs and five states")
                sessions.append(seen)
                if connects == 1:
                    await broker.stop()
                    await wait_until(lambda: not telemetry.statistics.connected, 10.0,
                                     "the connection lost")
                    await broker.start()
            stop.set()
            await loop
    finally:
        await broker.stop()
    assert telemetry.statistics.discovery_published == 2 * len(ENTITIES)
    unique_ids = [{json.loads(payload)["unique_id"] for topic, payload, _ in seen.messages
                   if topic in config_topics(ha)} for seen in sessions]
    assert unique_ids[0] == unique_ids[1] == {f"pybms_garage_1_{e.key}" for e in ENTITIES}
    states = [state for seen in sessions for state in seen.json_of(ha.state_topic)]
    for key in NEVER_DECREASING:
        values = [state[key] for state in states]
        assert values == sorted(values), key
    assert states[-1]["discharged_kwh"] > states[0]["discharged_kwh"]  # it moved meanwhile


def test_a_pack_device_names_its_model() -> None:
    assert PackDevice("p", 8, 16, "LFP", 100.0).model == "8 x 16 LFP"
