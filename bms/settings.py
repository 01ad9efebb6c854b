"""The pack configuration: one TOML file per pack, every key typed, bounded and defaulted.

With no file at all the defaults describe the virtual pack of the README: 8 modules of 16
NMC cells on udp_multicast. `load_settings` is the only way in; it refuses unknown keys and
bad values with a message that names the key.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bms.config_loader import InvalidSettingError, Scalar, apply_overrides, load, read_toml, setting
from bms.errors import ConfigError

# Bounds that the pack DBC can carry (tests check them against dbc/pack.dbc).
MAX_MODULES = 32
MAX_CELLS_PER_MODULE = 18
MAX_TEMPERATURE_SENSORS_PER_MODULE = 16


class Chemistry(enum.StrEnum):
    NMC = "NMC"
    LFP = "LFP"


@dataclass(frozen=True)
class PackSettings:
    name: str = setting("virtual-pack", doc="pack id, used in logs and telemetry")
    modules: int = setting(8, minimum=1, maximum=MAX_MODULES, doc="number of modules (slaves)")
    cells_per_module: int = setting(16, minimum=1, maximum=MAX_CELLS_PER_MODULE,
                                    doc="series cells per module")
    temperature_sensors_per_module: int = setting(
        8, minimum=1, maximum=MAX_TEMPERATURE_SENSORS_PER_MODULE, doc="sensors per module")
    chemistry: Chemistry = setting(Chemistry.NMC, doc="NMC or LFP")

    @property
    def cells(self) -> int:
        return self.modules * self.cells_per_module


@dataclass(frozen=True)
class SlaveSettings:
    afe: str = setting("sim", doc="AFE backend: sim (more in the slave's AFE registry)")
    measurement_period_s: float = setting(0.1, minimum=0.01, maximum=10.0,
                                          doc="cell voltages measured and sent every period")
    temperature_period_s: float = setting(0.5, minimum=0.01, maximum=60.0,
                                          doc="temperatures sent every period")
    status_period_s: float = setting(0.2, minimum=0.01, maximum=60.0,
                                     doc="ModuleStatus sent every period")
    balancing_command_timeout_s: float = setting(
        3.0, above=0.0, maximum=600.0, doc="bleeding stops when the last command is older")

    def __post_init__(self) -> None:
        if self.temperature_period_s < self.measurement_period_s:
            raise InvalidSettingError("temperature_period_s",
                                      "must not be shorter than measurement_period_s")
        if self.status_period_s < self.measurement_period_s:
            raise InvalidSettingError("status_period_s",
                                      "must not be shorter than measurement_period_s")


@dataclass(frozen=True)
class MasterSettings:
    tick_period_s: float = setting(0.01, minimum=0.001, maximum=1.0,
                                   doc="control loop period (timeouts are checked every tick)")
    heartbeat_period_s: float = setting(0.1, minimum=0.01, maximum=10.0,
                                        doc="MasterHeartbeat period")
    status_period_s: float = setting(0.2, minimum=0.01, maximum=10.0,
                                     doc="MasterStatus (all pages) period")
    slave_stale_timeout_s: float = setting(0.25, above=0.0, maximum=60.0,
                                           doc="a slave with no valid frame for this long is stale")
    slave_lost_timeout_s: float = setting(0.35, above=0.0, maximum=60.0,
                                          doc="a slave with no valid frame for this long is lost")
    temperature_stale_timeout_s: float = setting(
        1.25, above=0.0, maximum=600.0, doc="temperatures older than this are not used")
    e2e_max_lost_frames: int = setting(2, minimum=0, maximum=13,
                                       doc="tolerated alive-counter gap before WRONG_SEQUENCE")

    def __post_init__(self) -> None:
        if self.slave_lost_timeout_s <= self.slave_stale_timeout_s:
            raise InvalidSettingError("slave_lost_timeout_s",
                                      "must be longer than slave_stale_timeout_s")
        if self.tick_period_s > self.slave_stale_timeout_s / 2:
            raise InvalidSettingError("tick_period_s",
                                      "must be at most half of slave_stale_timeout_s")


@dataclass(frozen=True)
class CellSimSettings:
    seed: int = setting(1, doc="random seed: same seed, same pack")
    capacity_ah: float = setting(0.0, minimum=0.0, maximum=2000.0,
                                 doc="cell capacity; 0 takes the chemistry's reference cell")
    capacity_spread_pct: float = setting(2.0, minimum=0.0, maximum=30.0,
                                         doc="1-sigma spread of capacity")
    resistance_spread_pct: float = setting(5.0, minimum=0.0, maximum=50.0,
                                           doc="1-sigma spread of R0 and R1")
    initial_soc_pct: float = setting(60.0, minimum=0.0, maximum=100.0, doc="mean initial SOC")
    initial_soc_spread_pct: float = setting(2.0, minimum=0.0, maximum=30.0,
                                            doc="1-sigma spread of initial SOC (points)")
    ambient_degc: float = setting(25.0, minimum=-40.0, maximum=80.0, doc="ambient temperature")
    voltage_noise_mv: float = setting(0.5, minimum=0.0, maximum=50.0,
                                      doc="1-sigma AFE voltage noise")
    temperature_noise_degc: float = setting(0.1, minimum=0.0, maximum=5.0,
                                            doc="1-sigma temperature sensor noise")
    self_discharge_pct_per_month: float = setting(2.0, minimum=0.0, maximum=50.0)
    coulombic_efficiency: float = setting(0.999, above=0.5, maximum=1.0,
                                          doc="charge efficiency")
    balancing_resistor_ohm: float = setting(100.0, above=0.0, maximum=10000.0,
                                            doc="passive bleed resistor per cell")
    balancing_heat_fraction: float = setting(0.5, minimum=0.0, maximum=1.0,
                                             doc="share of bleed heat that warms the cell")


@dataclass(frozen=True)
class CurrentStep:
    duration_s: float = setting(1.0, above=0.0, doc="how long this step lasts")
    current_a: float = setting(0.0, minimum=-10000.0, maximum=10000.0,
                               doc="pack current, positive charges")


DEFAULT_PROFILE = (
    CurrentStep(20.0, -10.0),
    CurrentStep(5.0, -25.0),
    CurrentStep(10.0, 4.0),
    CurrentStep(15.0, 0.0),
)


@dataclass(frozen=True)
class CurrentSensorSimSettings:
    current_period_s: float = setting(0.01, minimum=0.001, maximum=1.0,
                                      doc="IVT current result period")
    other_results_period_s: float = setting(0.1, minimum=0.01, maximum=10.0,
                                            doc="IVT voltage, temperature, power, charge, energy")
    profile: tuple[CurrentStep, ...] = field(
        default=DEFAULT_PROFILE, metadata={"doc": "repeating current steps"})

    def __post_init__(self) -> None:
        if not self.profile:
            raise InvalidSettingError("profile", "needs at least one step")


@dataclass(frozen=True)
class SimSettings:
    cells: CellSimSettings = field(default_factory=CellSimSettings)
    current_sensor: CurrentSensorSimSettings = field(default_factory=CurrentSensorSimSettings)


def _default_pack_bus() -> dict[str, Scalar]:
    return {"interface": "udp_multicast", "channel": "239.74.163.2", "port": 43113,
            "hop_limit": 0, "bitrate": 500000}


def _default_vehicle_bus() -> dict[str, Scalar]:
    return {"interface": "udp_multicast", "channel": "239.74.163.3", "port": 43114,
            "hop_limit": 0, "bitrate": 500000}


def _check_bus(name: str, kwargs: dict[str, Scalar]) -> None:
    interface = kwargs.get("interface")
    if not isinstance(interface, str) or not interface:
        raise InvalidSettingError(f"{name}.interface", "required (a python-can interface name)")
    if "channel" not in kwargs:
        raise InvalidSettingError(f"{name}.channel", "required")
    if interface == "udp_multicast":
        try:
            group = ipaddress.ip_address(str(kwargs["channel"]))
        except ValueError:
            raise InvalidSettingError(f"{name}.channel", "must be a multicast IP address") from None
        if not group.is_multicast:
            raise InvalidSettingError(f"{name}.channel", f"{group} is not a multicast address")
        if kwargs.get("hop_limit") != 0:
            raise InvalidSettingError(f"{name}.hop_limit",
                          "must be 0 on udp_multicast, so frames never leave this host")


@dataclass(frozen=True)
class BusSettings:
    """Keyword arguments of `can.Bus` per bus (interface, channel, bitrate, ...)."""

    pack: dict[str, Scalar] = field(default_factory=_default_pack_bus)
    vehicle: dict[str, Scalar] = field(default_factory=_default_vehicle_bus)

    def __post_init__(self) -> None:
        _check_bus("pack", self.pack)
        _check_bus("vehicle", self.vehicle)


@dataclass(frozen=True)
class Settings:
    pack: PackSettings = field(default_factory=PackSettings)
    slave: SlaveSettings = field(default_factory=SlaveSettings)
    master: MasterSettings = field(default_factory=MasterSettings)
    sim: SimSettings = field(default_factory=SimSettings)
    bus: BusSettings = field(default_factory=BusSettings)

    def __post_init__(self) -> None:
        # a slave that reports less often than its stale timeout would flap
        slowest = max(self.slave.measurement_period_s, self.slave.status_period_s)
        if self.master.slave_stale_timeout_s <= slowest:
            raise InvalidSettingError("master.slave_stale_timeout_s",
                          f"must be longer than the slave's slowest period ({slowest} s)")
        if self.master.temperature_stale_timeout_s <= self.slave.temperature_period_s:
            raise InvalidSettingError("master.temperature_stale_timeout_s",
                          "must be longer than slave.temperature_period_s")


def _extend_default_buses(data: dict[str, Any]) -> None:
    """A [bus.X] table that names no interface only changes keys of the default bus."""
    buses = data.get("bus")
    if not isinstance(buses, dict):
        return
    defaults = BusSettings()
    for name, table in buses.items():
        if isinstance(table, dict) and "interface" not in table and hasattr(defaults, name):
            buses[name] = {**getattr(defaults, name), **table}


def load_settings(path: Path | None = None, overrides: Sequence[str] = ()) -> Settings:
    """Settings from a TOML file (or the defaults) with ``key=value`` overrides applied."""
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    apply_overrides(data, overrides)
    _extend_default_buses(data)
    where = f"{path}: " if path is not None else ""
    try:
        return load(Settings, data)
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None


def bus_kwargs(settings: Settings, bus: str) -> dict[str, Scalar]:
    """The `can.Bus` keyword arguments of bus ``pack`` or ``vehicle``."""
    return dict(getattr(settings.bus, bus))


def replace(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
