"""The virtual site's configurations: written, loaded back, every pack on wires of its own,
and the default SOCs where the site's story needs them (two packs within the join window,
one outside it), by the cells' own OCV."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bms.errors import ConfigError
from bms.settings import Settings, bus_kwargs, load_settings
from sim.module_plant import ModulePlant
from sim.site_configs import (
    DEFAULT_SOCS_PCT,
    PACK_BUSES,
    PACK_PROFILE,
    SITE_PROFILE,
    check_buses,
    pack_names,
    password_env,
    socs_pct,
    to_toml,
    write_configs,
)

NAMES = pack_names(3)


def configs(tmp_path: Path, count: int = 3, **kwargs: Any) -> Any:
    names = pack_names(count)
    return write_configs(tmp_path, names, socs_pct(count),
                         {name: 2000 + i for i, name in enumerate(names)}, 1999, **kwargs)


@pytest.mark.parametrize("data", [
    {"a": 1, "b": {"c": "x \"quoted\" \\ é", "d": [1.5, 2.0], "e": {"f": True}}},
    {"sim": {"inverter": {"profile": [{"duration_s": 15.0, "current_c": -0.2}]}}},
    {"diagnosis": {"cell_overvoltage_msl": {"debounce_set": 3}}, "odd key": {"x": 0}},
    {"empty": {}},
], ids=["nested", "array-of-tables", "keys", "empty-table"])
def test_toml_round_trips(data: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(data, "a header\nof two lines")) == data


def test_every_file_loads_as_written(tmp_path: Path) -> None:
    written = configs(tmp_path)
    for name, path in written.packs.items():
        settings = load_settings(path)
        assert settings == written.pack_settings[name]
        assert settings.pack.name == name
        assert settings.mqtt.enabled
        assert settings.mqtt.port == 2000 + NAMES.index(name)
        assert settings.mqtt.password_env == password_env(name)
        assert Path(settings.master.store_path).parent == tmp_path / "packs" / name
        assert not settings.endpoints.vcu
        assert settings.endpoints.request_without_vcu == "standby"
        assert settings.endpoints.inverter == "none"
    site = load_settings(written.site)
    assert site.site.packs == tuple(NAMES)
    assert site.mqtt.port == 1999
    assert site.endpoints.inverter == "byd_hvs"


def test_each_pack_has_its_own_wires_and_seed(tmp_path: Path) -> None:
    written = configs(tmp_path, 8)
    wires = [(bus_kwargs(s, bus)["channel"], bus_kwargs(s, bus)["port"])
             for s in written.pack_settings.values() for bus in PACK_BUSES]
    assert len(set(wires)) == len(wires) == 8 * len(PACK_BUSES)
    assert all(bus_kwargs(s, bus)["hop_limit"] == 0
               for s in written.pack_settings.values() for bus in PACK_BUSES)
    assert len({s.sim.cells.seed for s in written.pack_settings.values()}) == 8


def test_a_pack_bus_on_the_inverters_wire_is_refused(tmp_path: Path) -> None:
    site = load_settings(SITE_PROFILE)
    pack = load_settings(PACK_PROFILE, [f"bus.sim.{k}={v!r}".replace("'", '"')
                                        for k, v in bus_kwargs(site, "inverter").items()])
    with pytest.raises(ConfigError, match="inverter bus is the same wire as the pack-1 sim bus"):
        check_buses(site, {"pack-1": pack})


def test_the_pack_count_and_socs_are_checked() -> None:
    with pytest.raises(ConfigError, match="--packs"):
        pack_names(0)
    with pytest.raises(ConfigError, match="--soc"):
        socs_pct(2, [50.0, 60.0, 70.0])
    with pytest.raises(ConfigError, match=r"0\.\.100"):
        socs_pct(1, [101.0])
    assert socs_pct(3, [20.0]) == [20.0, *DEFAULT_SOCS_PCT[1:]]


def _pack_plant(pack: Settings, soc_pct: float, seed: int) -> list[ModulePlant]:
    cells = dataclasses.replace(pack.sim.cells, initial_soc_pct=soc_pct, seed=seed)
    return [ModulePlant(cells, pack.pack.chemistry, m, pack.pack.cells_per_module,
                        pack.pack.temperature_sensors_per_module, pack.pack.cell_capacity_ah)
            for m in range(pack.pack.modules)]


def _source(plant: list[ModulePlant]) -> tuple[float, float]:
    modules = [m.thevenin() for m in plant]
    return sum(m.source_v for m in modules), sum(m.resistance_ohm for m in modules)


def test_two_default_packs_start_within_the_window_and_the_third_is_steered_in() -> None:
    """The packs' own cells (sim/module_plant.py): the first two close, the third waits
    outside; the site's steering lets only the profile's first phase, the load, through the
    two, and by its end (when the site sees their voltage at no current: their sources) the
    sources have come within the window of the third."""
    pack, site = load_settings(PACK_PROFILE), load_settings(SITE_PROFILE)
    window_v = site.site.join_voltage_v
    assert window_v < pack.contactors.precharge_voltage_threshold_v
    first, second, low = (_pack_plant(pack, soc, i + 1) for i, soc in enumerate(DEFAULT_SOCS_PCT))
    assert abs(_source(first)[0] - _source(second)[0]) < window_v / 2
    low_v = _source(low)[0]
    (phase, *_) = site.sim.inverter.profile
    assert phase.current_c < 0  # the load first: what the steering lets through
    site_a = phase.current_c * pack.pack.cell_capacity_ah
    step_s, gaps_v = 0.1, []
    for _ in range(round(phase.duration_s / step_s)):
        (e1, r1), (e2, r2) = _source(first), _source(second)
        gaps_v.append((e1 / r1 + e2 / r2) / (1 / r1 + 1 / r2) - low_v)  # at no current
        bus_v = (site_a + e1 / r1 + e2 / r2) / (1 / r1 + 1 / r2)
        for plant, e, r in ((first, e1, r1), (second, e2, r2)):
            for module in plant:
                module.advance(step_s, (bus_v - e) / r)
    assert window_v + 0.1 < gaps_v[0] < window_v + 0.5  # outside at the start, not far
    assert gaps_v[-1] < window_v - 0.1  # inside, with room, when the load stops
