"""Every number in the pack configuration is finite and bounded: NaN, infinities and values
beyond any bound are refused at load, naming the key (a NaN limit is never crossed, a NaN
delay never runs out: both passed `<` and `>` checks before)."""

import dataclasses
import math
import types
import typing

import pytest

from bms.errors import ConfigError
from bms.settings import Settings, load_settings
from master.diagnosis.limits import resolve_limits

# the dict-of-tables settings, each with one entry of its own
DICT_ENTRIES = {"diagnosis": "cell_overvoltage_msl"}


def numeric_keys(cls: type = Settings, path: str = "") -> list[tuple[str, bool]]:
    """(key, is an array) of every int and float setting, every table walked."""
    keys: list[tuple[str, bool]] = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = f"{path}.{field.name}" if path else field.name
        hint = hints[field.name]
        if typing.get_origin(hint) in (types.UnionType, typing.Union):
            (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        if dataclasses.is_dataclass(hint):
            keys += numeric_keys(hint, key)  # type: ignore[arg-type]
        elif typing.get_origin(hint) is dict:
            item = typing.get_args(hint)[1]
            if dataclasses.is_dataclass(item):
                keys += numeric_keys(item, f"{key}.{DICT_ENTRIES[key]}")  # type: ignore[arg-type]
        elif typing.get_origin(hint) is tuple:
            if typing.get_args(hint)[0] in (int, float):
                keys.append((key, True))
        elif hint in (int, float):
            keys.append((key, False))
    return keys


NUMERIC = numeric_keys()


def test_the_walk_finds_the_settings_that_hurt() -> None:
    found = dict(NUMERIC)
    for key in ("limits.cell_overvoltage_mv", "limits.deep_discharge_mv",
                "limits.pack_voltage_plausibility_v", "contactors.max_break_current_a",
                "master.vcu_heartbeat_timeout_s", "master.slave_lost_timeout_s",
                "master.tick_period_s", "diagnosis.cell_overvoltage_msl.reaction_delay_s"):
        assert key in found, key
    assert len(NUMERIC) > 100


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "-1e300"])
@pytest.mark.parametrize(("key", "array"), NUMERIC, ids=[k for k, _ in NUMERIC])
def test_no_number_setting_takes_what_no_bound_holds(key: str, array: bool, value: str) -> None:
    text = f"[{value}, {value}, {value}]" if array else value
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").split(".")[-1]):
        load_settings(None, [f"{key}={text}"])


@pytest.mark.parametrize(("key", "value"), [
    ("limits.cell_voltage_spread_mv", "-1"), ("limits.temperature_spread_degc", "-5"),
    ("limits.pack_voltage_plausibility_v", "-3"), ("limits.pack_voltage_plausibility_v", "0"),
    ("limits.cell_overvoltage_mv", "[4150, 4200, -1]"),
    ("limits.discharge_overcurrent_a", "[-10, 20, 30]"),
    ("power_limits.charge_soc_factors", "[1, 1, 1, 1, 1, 0.5, 2]"),
    ("bus.pack.bitrate", "nan"),
])
def test_negative_and_out_of_range_limits_are_refused(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        load_settings(None, [f"{key}={value}"])


def test_a_nan_tier_cannot_reach_the_limits() -> None:
    """The attack of the issue: [4150, 4200, nan] left a 4320 mV cell NORMAL."""
    with pytest.raises(ConfigError, match=r"limits\.cell_overvoltage_mv\[2\]: must be a finite"):
        load_settings(None, ["limits.cell_overvoltage_mv=[4150, 4200, nan]"])
    limits = resolve_limits(load_settings(None, ["limits.cell_overvoltage_mv=[4150, 4200, 4300]"]))
    assert all(math.isfinite(v) for v in limits.cell_overvoltage_mv.tiers())


@pytest.mark.parametrize("name", ["a/b", "pack#1", "pack+", "", "x" * 65, "päck", "a b"])
def test_a_pack_name_is_one_topic_level(name: str) -> None:
    with pytest.raises(ConfigError, match=r"pack\.name"):
        load_settings(None, [f'pack.name="{name}"'])
    assert load_settings(None, ['pack.name="garage-storage_1.a"']).pack.name == \
        "garage-storage_1.a"
