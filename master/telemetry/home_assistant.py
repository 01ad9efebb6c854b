"""Home Assistant MQTT discovery for one pack (docs/home-assistant.md): the retained JSON
configs of a device and its entities, and the JSON state they read. Pure: the configs are
built from the pack's description, the state from its report (master/report.py).

Home Assistant reads text and JSON, not msgpack, so this is a second view of the report,
beside the msgpack telemetry, published only with ``mqtt.home_assistant``:

- ``<discovery prefix>/<component>/<node id>/<key>/config``: one config per entity, all of
  them one device;
- ``<prefix>/<pack>/ha/state``: one JSON object per state period; every entity takes its
  value from it (``value_template``) and some their attributes (``json_attributes_template``);
- ``<prefix>/<pack>/ha/availability``: plain ``online`` at each connect, ``offline`` at a
  clean stop. Home Assistant cannot decode the msgpack ``online`` topic, and a connection
  has one last will, which stays the msgpack one for the other readers: after a master
  that vanished this topic still says ``online``, so every entity also expires
  (``expire_after``) EXPIRE_AFTER_PERIODS state periods after the last state.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from dbc.frames import MasterState
from master.pack_state import Extreme
from master.report import ActiveEntry, PackReport

AVAILABLE = b"online"  # Home Assistant's default payload_available / payload_not_available
NOT_AVAILABLE = b"offline"
EXPIRE_AFTER_PERIODS = 3  # states missed before Home Assistant shows a pack unavailable
MANUFACTURER = "pybms"
SENSOR = "sensor"
BINARY_SENSOR = "binary_sensor"
MEASUREMENT = "measurement"
TOTAL_INCREASING = "total_increasing"  # only for the lifetime counters: they never decrease
V_PER_MV = 0.001
PCT = 100.0
W_PER_KW = 1000.0
NODE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")  # a discovery topic's node and object ids


@dataclass(frozen=True)
class Entity:
    """One Home Assistant entity; ``key`` is its object id, its unique id's tail and its
    value's key in the JSON state (its attributes' key under ``attributes``)."""

    key: str
    name: str
    component: str = SENSOR
    device_class: str | None = None
    unit: str | None = None
    state_class: str | None = MEASUREMENT
    precision: int | None = None  # suggested_display_precision
    attributes: bool = False


ENTITIES = (
    Entity("soc_pct", "SOC", device_class="battery", unit="%", precision=1),
    Entity("soh_pct", "SOH", unit="%", precision=1),
    Entity("soe_kwh", "Stored energy", device_class="energy_storage", unit="kWh", precision=2),
    Entity("voltage_v", "Voltage", device_class="voltage", unit="V", precision=1),
    Entity("current_a", "Current", device_class="current", unit="A", precision=1),
    Entity("power_kw", "Power", device_class="power", unit="kW", precision=2),
    Entity("cell_voltage_min_v", "Cell voltage min", device_class="voltage", unit="V",
           precision=3, attributes=True),
    Entity("cell_voltage_max_v", "Cell voltage max", device_class="voltage", unit="V",
           precision=3, attributes=True),
    Entity("temperature_min_degc", "Temperature min", device_class="temperature", unit="°C",
           precision=1, attributes=True),
    Entity("temperature_max_degc", "Temperature max", device_class="temperature", unit="°C",
           precision=1, attributes=True),
    Entity("charge_limit_a", "Charge current limit", device_class="current", unit="A",
           precision=1, attributes=True),
    Entity("discharge_limit_a", "Discharge current limit", device_class="current", unit="A",
           precision=1, attributes=True),
    Entity("state", "State", device_class="enum", state_class=None),
    Entity("fault_active", "Fault", BINARY_SENSOR, device_class="problem", state_class=None,
           attributes=True),
    Entity("warning_active", "Warning", BINARY_SENSOR, device_class="problem",
           state_class=None, attributes=True),
    Entity("charged_kwh", "Energy charged", device_class="energy", unit="kWh",
           state_class=TOTAL_INCREASING, precision=2),
    Entity("discharged_kwh", "Energy discharged", device_class="energy", unit="kWh",
           state_class=TOTAL_INCREASING, precision=2),
    Entity("full_cycles", "Full cycles", state_class=TOTAL_INCREASING, precision=2),
)


@dataclass(frozen=True)
class PackDevice:
    """What Home Assistant shows of the pack as a device."""

    name: str  # pack.name
    modules: int
    cells_per_module: int
    chemistry: str
    capacity_ah: float  # of the series string: a full cycle discharges this much

    @property
    def model(self) -> str:
        return f"{self.modules} x {self.cells_per_module} {self.chemistry}"


class HomeAssistant:
    """The discovery configs and the JSON state of one pack."""

    def __init__(self, device: PackDevice, prefix: str, discovery_prefix: str,
                 state_period_s: float) -> None:
        self.device = device
        self.discovery_prefix = discovery_prefix
        base = f"{prefix}/{device.name}/ha"
        self.state_topic = f"{base}/state"
        self.availability_topic = f"{base}/availability"
        self.node_id = "pybms_" + NODE_ID_CHARACTERS.sub("_", device.name)
        self.expire_after_s = max(1, math.ceil(EXPIRE_AFTER_PERIODS * state_period_s))

    def config_topic(self, entity: Entity) -> str:
        return f"{self.discovery_prefix}/{entity.component}/{self.node_id}/{entity.key}/config"

    def config(self, entity: Entity) -> dict[str, Any]:
        config: dict[str, Any] = {
            "name": entity.name,
            "unique_id": f"{self.node_id}_{entity.key}",
            "state_topic": self.state_topic,
            "value_template": _value_template(entity),
            "availability_topic": self.availability_topic,
            "payload_available": AVAILABLE.decode(),
            "payload_not_available": NOT_AVAILABLE.decode(),
            "expire_after": self.expire_after_s,
            "device": {"identifiers": [self.node_id], "name": self.device.name,
                       "manufacturer": MANUFACTURER, "model": self.device.model},
            "origin": {"name": MANUFACTURER},
        }
        optional = {"device_class": entity.device_class, "unit_of_measurement": entity.unit,
                    "state_class": entity.state_class,
                    "suggested_display_precision": entity.precision}
        config |= {key: value for key, value in optional.items() if value is not None}
        if entity.device_class == "enum":
            config["options"] = [state.name for state in MasterState]
        if entity.attributes:
            config["json_attributes_topic"] = self.state_topic
            config["json_attributes_template"] = \
                f"{{{{ value_json.attributes.{entity.key} | tojson }}}}"
        return config

    def discovery(self) -> list[tuple[str, bytes]]:
        """(topic, payload) of every config, to be published retained."""
        return [(self.config_topic(entity), json.dumps(self.config(entity)).encode())
                for entity in ENTITIES]

    def state(self, report: PackReport, wall_s: float) -> dict[str, Any]:
        """The JSON state: every entity's value (None: unknown) and attributes."""
        summary, limits, estimate, counters = (report.summary, report.limits, report.estimate,
                                               report.counters)
        voltage_v, current_a = report.voltage_v, report.current_a
        soc = estimate.soc_usable * PCT if estimate else None
        soh = estimate.capacity_ratio_min * PCT if estimate else None
        soe = estimate.energy_wh / W_PER_KW if estimate else None
        return {
            "t": wall_s,
            "state": report.state.name,
            "soc_pct": _number(soc, 2),
            "soh_pct": _number(soh, 2),
            "soe_kwh": _number(soe, 3),
            "voltage_v": _number(voltage_v, 2),
            "current_a": _number(current_a, 2),
            "power_kw": _number(voltage_v * current_a / W_PER_KW, 3),
            "cell_voltage_min_v": _extreme(summary.min_cell_mv, V_PER_MV, 3),
            "cell_voltage_max_v": _extreme(summary.max_cell_mv, V_PER_MV, 3),
            "temperature_min_degc": _extreme(summary.min_temperature_degc, 1.0, 1),
            "temperature_max_degc": _extreme(summary.max_temperature_degc, 1.0, 1),
            "charge_limit_a": _number(limits.charge_a, 2),
            "discharge_limit_a": _number(limits.discharge_a, 2),
            "fault_active": bool(report.faults),
            "warning_active": bool(report.warnings),
            # rounding keeps a counter that never decreases from decreasing
            "charged_kwh": _number(counters.charged_wh / W_PER_KW, 3),
            "discharged_kwh": _number(counters.discharged_wh / W_PER_KW, 3),
            "full_cycles": _number(counters.discharged_ah / self.device.capacity_ah, 3),
            "attributes": {
                "cell_voltage_min_v": _location(summary.min_cell_mv, "cell"),
                "cell_voltage_max_v": _location(summary.max_cell_mv, "cell"),
                "temperature_min_degc": _location(summary.min_temperature_degc, "sensor"),
                "temperature_max_degc": _location(summary.max_temperature_degc, "sensor"),
                "charge_limit_a": {"limiter": limits.charge_limiter},
                "discharge_limit_a": {"limiter": limits.discharge_limiter},
                "fault_active": _entries(report.faults),
                "warning_active": _entries(report.warnings),
            },
        }

    def state_payload(self, report: PackReport, wall_s: float) -> bytes:
        return json.dumps(self.state(report, wall_s), separators=(",", ":")).encode()


def _value_template(entity: Entity) -> str:
    if entity.component == BINARY_SENSOR:
        return f"{{{{ 'ON' if value_json.{entity.key} else 'OFF' }}}}"
    if entity.device_class == "enum":
        return f"{{{{ value_json.{entity.key} }}}}"
    # a number, or null: Home Assistant shows null as unknown (sensor.mqtt, state_topic)
    return f"{{{{ value_json.{entity.key} | tojson }}}}"


def _number(value: float | None, digits: int) -> float | None:
    """Rounded; None for a value that is missing or not finite (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _extreme(extreme: Extreme | None, scale: float, digits: int) -> float | None:
    return None if extreme is None else _number(extreme.value * scale, digits)


def _location(extreme: Extreme | None, element: str) -> dict[str, int]:
    """Where an extreme is (0-based, as everywhere in the project); {} without one."""
    return {} if extreme is None else {"module": extreme.module_id, element: extreme.index}


def _entries(entries: tuple[ActiveEntry, ...]) -> dict[str, list[str]]:
    return {"entries": [entry.entry for entry in entries]}
