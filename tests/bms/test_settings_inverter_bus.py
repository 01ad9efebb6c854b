"""The inverter's bus: its own with a VCU, the vehicle bus by default without one, never the
vehicle bus when a VCU shares it (the rule broken on purpose)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bms.errors import ConfigError
from bms.settings import inverter_bus, inverter_shares_vehicle_bus, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_with_a_vcu_the_inverter_has_a_bus_of_its_own() -> None:
    settings = load_settings(None, ["endpoints.inverter=can_bms"])
    assert settings.bus.inverter["channel"] == "239.74.163.5"
    assert not inverter_shares_vehicle_bus(settings)
    assert inverter_bus(settings) == "inverter"


def test_without_a_vcu_it_is_the_vehicle_bus_unless_a_table_says_otherwise(
        tmp_path: Path) -> None:
    lv = load_settings(REPO / "deploy/packs/home-storage-lv.toml")
    assert lv.bus.inverter == lv.bus.vehicle
    assert inverter_bus(lv) == "vehicle"
    own = tmp_path / "own.toml"
    own.write_text(f'{(REPO / "deploy/packs/home-storage-lv.toml").read_text()}\n'
                   '[bus.inverter]\nport = 45000\n')  # a partial table: its own group's keys
    separate = load_settings(own)
    assert separate.bus.inverter["port"] == 45000
    assert separate.bus.inverter["channel"] == "239.74.163.5"
    assert inverter_bus(separate) == "inverter"
    assert inverter_bus(load_settings(None)) is None  # no inverter at all


def test_a_vcu_and_the_inverter_on_one_bus_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"bus\.inverter: must not be the vehicle bus .* "
                                          r"0x300-0x303"):
        load_settings(None, ["endpoints.inverter=can_bms",
                             'bus.inverter.channel="239.74.163.3"', "bus.inverter.port=43114"])
    # without an inverter the same table is nobody's business
    load_settings(None, ['bus.inverter.channel="239.74.163.3"', "bus.inverter.port=43114"])
