"""Scenarios for the lockstep harness: a pack configuration and time-stamped events.

A scenario file (TOML):

    [scenario]
    name = "ev-day"
    duration_s = 21600.0
    sample_period_s = 1.0           # one time-series row per period (virtual time)
    config = "pack.toml"            # optional, relative to this file; else the built-in pack
    set = ["pack.modules=4"]        # optional overrides, as `--set`

    [[events]]
    at_s = 0.0
    kind = "drive"                  # see EVENT_KINDS
    profile = [{ duration_s = 60.0, current_c = -1.0 }, { duration_s = 30.0, current_c = 0.3 }]

Every key is checked; an error names the event (``events[3].current_c``) and the reason.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bms.config_loader import InvalidSettingError, load, setting
from bms.errors import ConfigError
from bms.settings import CurrentStep


@dataclass(frozen=True)
class DriveEvent:
    """The VCU asks for drive; the load follows the profile (default: the pack's)."""

    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "drive"
    profile: tuple[CurrentStep, ...] = ()


@dataclass(frozen=True)
class ParkEvent:
    """The VCU asks for standby: contactors open, no current."""

    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "park"


@dataclass(frozen=True)
class ChargeEvent:
    """The VCU asks for charge at ``current_c`` (within the BMS's limits) and ends the
    charge by itself on the taper."""

    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "charge"
    current_c: float = setting(0.5, above=0.0, maximum=10.0)


@dataclass(frozen=True)
class AmbientEvent:
    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "ambient"
    degc: float = setting(25.0, minimum=-40.0, maximum=80.0)


@dataclass(frozen=True)
class InjectCellEvent:
    """Force a cell voltage (mV) or a sensor temperature (degC), or make a cell invalid."""

    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "inject_cell"
    module: int = setting(0, minimum=0, maximum=31)
    cell: int = setting(0, minimum=0, maximum=17)
    quantity: str = "voltage"
    value: float = 0.0
    duration_s: float = setting(0.0, minimum=0.0, maximum=3600.0, doc="0: until cleared")

    def __post_init__(self) -> None:
        if self.quantity not in ("voltage", "temperature", "invalid", "clear"):
            raise InvalidSettingError("quantity", "must be voltage, temperature, invalid or clear")


@dataclass(frozen=True)
class InjectSlaveEvent:
    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "inject_slave"
    module: int = setting(0, minimum=0, maximum=31)
    fault: str = "stop"
    duration_s: float = setting(0.0, minimum=0.0, maximum=3600.0)

    def __post_init__(self) -> None:
        if self.fault not in SLAVE_FAULTS:
            raise InvalidSettingError("fault", f"must be one of {', '.join(SLAVE_FAULTS)}")


@dataclass(frozen=True)
class InjectCurrentEvent:
    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "inject_current"
    current_a: float = setting(0.0, minimum=-3000.0, maximum=3000.0)
    duration_s: float = setting(1.0, above=0.0, maximum=3600.0)


@dataclass(frozen=True)
class BalancingEvent:
    """The VCU enables or disables balancing and may set the voltage threshold."""

    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "balancing"
    enabled: bool = True
    threshold_mv: int = setting(0, minimum=0, maximum=255, doc="0: the BMS's own")


@dataclass(frozen=True)
class ResetEvent:
    """The VCU's fault-reset request."""

    at_s: float = setting(0.0, minimum=0.0)
    kind: str = "reset"


SLAVE_FAULTS = ("resume", "stop", "freeze", "kill", "bad_crc", "stuck_counter", "afe_fault")
Event = (DriveEvent | ParkEvent | ChargeEvent | AmbientEvent | InjectCellEvent
         | InjectSlaveEvent | InjectCurrentEvent | BalancingEvent | ResetEvent)
EVENT_KINDS: dict[str, type[Any]] = {
    "drive": DriveEvent, "park": ParkEvent, "charge": ChargeEvent, "ambient": AmbientEvent,
    "inject_cell": InjectCellEvent, "inject_slave": InjectSlaveEvent,
    "inject_current": InjectCurrentEvent, "balancing": BalancingEvent, "reset": ResetEvent,
}


@dataclass(frozen=True)
class ScenarioHeader:
    name: str = "scenario"
    description: str = ""
    duration_s: float = setting(60.0, above=0.0, maximum=30 * 86400.0)
    sample_period_s: float = setting(1.0, minimum=0.01, maximum=3600.0)
    config: str = setting("", doc="pack configuration, relative to the scenario file")
    set: tuple[str, ...] = ()
    estimator_soc_offset_pct: float = setting(
        0.0, minimum=-50.0, maximum=50.0,
        doc="shift the master's SOC estimate of every cell by this much once it starts "
            "(convergence from a wrong start)")


@dataclass(frozen=True)
class Scenario:
    header: ScenarioHeader
    events: tuple[Event, ...] = field(default_factory=tuple)
    config_path: Path | None = None

    @property
    def name(self) -> str:
        return self.header.name


def parse_scenario(data: dict[str, Any], base_dir: Path) -> Scenario:
    unknown = sorted(set(data) - {"scenario", "events"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown table (expected scenario and events)")
    header = load(ScenarioHeader, data.get("scenario", {}), "scenario")
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list):
        raise ConfigError("events: expected an array of tables ([[events]])")
    events: list[Event] = []
    for index, table in enumerate(raw_events):
        where = f"events[{index}]"
        if not isinstance(table, dict) or "kind" not in table:
            raise ConfigError(f"{where}.kind: required ({', '.join(EVENT_KINDS)})")
        kind = EVENT_KINDS.get(str(table["kind"]))
        if kind is None:
            raise ConfigError(f"{where}.kind: {table['kind']!r} is not one of "
                              f"{', '.join(EVENT_KINDS)}")
        if "at_s" not in table:
            raise ConfigError(f"{where}.at_s: required")
        event = load(kind, table, where)
        if event.at_s > header.duration_s:
            raise ConfigError(f"{where}.at_s: {event.at_s} is after the end of the scenario "
                              f"({header.duration_s} s)")
        events.append(event)
    events.sort(key=lambda e: e.at_s)  # stable: same-time events keep their file order
    config = (base_dir / header.config).resolve() if header.config else None
    if config is not None and not config.is_file():
        raise ConfigError(f"scenario.config: {config} does not exist")
    return Scenario(header, tuple(events), config)


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_scenario(data, path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
