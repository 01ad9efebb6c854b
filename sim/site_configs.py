"""The virtual site's configurations (docs/site.md, "The virtual site"): each pack's, made
from the pack profile (deploy/packs/site-pack.toml) with its name, its own buses, its SOC,
its store and its broker, and the site's, from the site profile
(deploy/packs/virtual-site.toml) with its packs and its broker. They are written as TOML
files into the run directory, so that every process of the site reads a file of its own and
any of them can be started again by hand. Pure but for `write_configs`.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bms.config_loader import Scalar, apply_overrides, read_toml
from bms.errors import ConfigError
from bms.settings import Settings, bus_kwargs, inverter_bus, load_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "packs"
PACK_PROFILE: Final = DEPLOY / "site-pack.toml"
SITE_PROFILE: Final = DEPLOY / "virtual-site.toml"
# Two packs on the LFP plateau, 0.2 V apart at 64 cells (50 %: 209.0 V, 60 %: 209.2 V), and
# one at the knee (40 %: 208.2 V), 1.0 V under the bus they make: outside the 0.8 V join
# window until the site's steering has discharged the other two towards it (docs/site.md).
DEFAULT_SOCS_PCT: Final = (50.0, 60.0, 40.0)
MORE_SOCS_PCT: Final = (55.0, 65.0, 45.0, 52.0, 58.0)  # packs beyond three: on the plateau
MAX_PACKS: Final = len(DEFAULT_SOCS_PCT) + len(MORE_SOCS_PCT)
PACK_BUSES: Final = ("pack", "vehicle", "sim")
PORT_STRIDE: Final = 10  # pack i's buses: the profile's ports + i x this
GROUP_STRIDE: Final = 256  # and its multicast groups' third octet + i
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def pack_names(count: int) -> list[str]:
    if not 1 <= count <= MAX_PACKS:
        raise ConfigError(f"--packs: 1 to {MAX_PACKS}, got {count}")
    return [f"pack-{i + 1}" for i in range(count)]


def socs_pct(count: int, given: Sequence[float] = ()) -> list[float]:
    """Each pack's initial SOC: ``given`` first, then the defaults."""
    if len(given) > count:
        raise ConfigError(f"--soc: {len(given)} given for {count} packs")
    for soc in given:
        if not 0.0 <= soc <= 100.0:
            raise ConfigError(f"--soc: {soc:g} is not 0..100")
    defaults = [*DEFAULT_SOCS_PCT, *MORE_SOCS_PCT]
    return [*given, *defaults[len(given):count]]


def password_env(pack: str) -> str:
    """The variable holding the password of ``pack``'s master on its own broker."""
    return "BMS_MQTT_PASSWORD_" + pack.upper().replace("-", "_").replace(".", "_")


def offset_bus(kwargs: Mapping[str, Scalar], index: int) -> dict[str, Scalar]:
    """The bus of the pack at ``index``: the profile's, its port and (udp_multicast) its
    group moved on by ``index`` steps."""
    moved = dict(kwargs)
    if isinstance(moved.get("port"), int):
        moved["port"] = int(moved["port"]) + PORT_STRIDE * index
    if moved.get("interface") == "udp_multicast":
        group = ipaddress.ip_address(str(moved["channel"])) + GROUP_STRIDE * index
        if not group.is_multicast:
            raise ConfigError(f"pack {index + 1}: its bus's group {group} is not multicast")
        moved["channel"] = str(group)
    elif index > 0 and not isinstance(moved.get("port"), int):
        raise ConfigError(f"{moved.get('interface')} buses: the site's packs need a bus each; "
                          f"give them udp_multicast (or files of their own)")
    return moved


@dataclass(frozen=True)
class PackPlace:
    """Where one pack's processes keep their things and meet their broker."""

    name: str
    soc_pct: float
    seed: int
    run_dir: Path
    broker_port: int


def pack_data(profile: Mapping[str, Any], buses: Mapping[str, Mapping[str, Scalar]],
              index: int, place: PackPlace) -> dict[str, Any]:
    """The configuration of the pack at ``index``: the profile with the pack's own values."""
    data = copy.deepcopy(dict(profile))
    for bus in PACK_BUSES:
        data.setdefault("bus", {})[bus] = offset_bus(buses[bus], index)
    for path, value in (
            ("pack.name", place.name),
            ("sim.cells.initial_soc_pct", place.soc_pct),
            ("sim.cells.seed", place.seed),
            ("mqtt.enabled", True),
            ("mqtt.host", "127.0.0.1"),
            ("mqtt.port", place.broker_port),
            ("mqtt.password_env", password_env(place.name)),
            ("master.store_path", str(place.run_dir / "bms.sqlite")),
            ("master.blackbox_dir", str(place.run_dir / "blackbox"))):
        _put(data, path, value)
    return data


def site_data(profile: Mapping[str, Any], packs: Sequence[str],
              broker_port: int) -> dict[str, Any]:
    data = copy.deepcopy(dict(profile))
    _put(data, "site.packs", list(packs))
    _put(data, "mqtt.host", "127.0.0.1")
    _put(data, "mqtt.port", broker_port)
    return data


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    *tables, key = path.split(".")
    for table in tables:
        data = data.setdefault(table, {})
    data[key] = value


# --- TOML ---------------------------------------------------------------------------------

def _key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value}: TOML configurations hold finite numbers")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise ValueError(f"{value!r}: not a TOML value")


def to_toml(data: Mapping[str, Any], header: str = "") -> str:
    """``data`` (what tomllib reads) as TOML: scalars first, then each table."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]

    def table(values: Mapping[str, Any], path: list[str]) -> None:
        plain = {k: v for k, v in values.items() if not isinstance(v, Mapping)}
        if path and (plain or not values):
            lines.append(f"\n[{'.'.join(_key(p) for p in path)}]")
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in plain.items())
        for key, value in values.items():
            if isinstance(value, Mapping):
                table(value, [*path, key])

    table(data, [])
    return "\n".join(lines).lstrip("\n") + "\n"


# --- the files ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SiteConfigs:
    site: Path
    site_settings: Settings
    packs: dict[str, Path]  # pack -> its configuration file
    pack_settings: dict[str, Settings]
    socs_pct: dict[str, float]


def write_configs(run_dir: Path, packs: Sequence[str], soc_pct: Sequence[float],
                  broker_ports: Mapping[str, int], site_port: int,
                  pack_profile: Path = PACK_PROFILE, site_profile: Path = SITE_PROFILE,
                  pack_overrides: Sequence[str] = (),
                  site_overrides: Sequence[str] = ()) -> SiteConfigs:
    """Every configuration of the site into ``run_dir`` (``site.toml``,
    ``packs/<pack>.toml``), each checked by loading it; ConfigError says what is wrong."""
    pack_profile_data = apply_overrides(read_toml(pack_profile), pack_overrides)
    site_profile_data = apply_overrides(read_toml(site_profile), site_overrides)
    profile_settings = load_settings(pack_profile, pack_overrides)
    buses = {bus: bus_kwargs(profile_settings, bus) for bus in PACK_BUSES}
    (run_dir / "packs").mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    settings: dict[str, Settings] = {}
    for index, (name, soc) in enumerate(zip(packs, soc_pct, strict=True)):
        place = PackPlace(name, soc, index + 1, run_dir / "packs" / name, broker_ports[name])
        place.run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / "packs" / f"{name}.toml"
        path.write_text(to_toml(pack_data(pack_profile_data, buses, index, place),
                                f"{name} of the virtual site: {pack_profile} and its own "
                                f"values (sim/site_configs.py)"))
        settings[name] = load_settings(path)
        paths[name] = path
    site_path = run_dir / "site.toml"
    site_path.write_text(to_toml(site_data(site_profile_data, packs, site_port),
                                 f"the virtual site: {site_profile} and its packs "
                                 f"(sim/site_configs.py)"))
    site_settings = load_settings(site_path)
    check_buses(site_settings, settings)
    return SiteConfigs(site_path, site_settings, paths, settings,
                       dict(zip(packs, soc_pct, strict=True)))


def _identity(kwargs: Mapping[str, Scalar]) -> tuple[Scalar | None, ...]:
    return kwargs.get("interface"), kwargs.get("channel"), kwargs.get("port")


def check_buses(site: Settings, packs: Mapping[str, Settings]) -> None:
    """Every pack's buses apart from every other's and from the site inverter's."""
    seen: dict[tuple[Scalar | None, ...], str] = {}
    wires = [(f"{name} {bus} bus", bus_kwargs(settings, bus))
             for name, settings in packs.items() for bus in PACK_BUSES]
    where = inverter_bus(site)
    if where is not None:
        wires.append(("the site's inverter bus", bus_kwargs(site, where)))
    for what, kwargs in wires:
        other = seen.setdefault(_identity(kwargs), what)
        if other != what:
            raise ConfigError(f"{what} is the same wire as the {other}")
