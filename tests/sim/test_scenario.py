"""Scenario files: every key checked, errors that name the event and the key."""

from pathlib import Path

import pytest

from bms.errors import ConfigError
from sim.scenario import ChargeEvent, DriveEvent, ParkEvent, load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[2]


def parse(text: str, base: Path = REPO) -> object:
    import tomllib

    return parse_scenario(tomllib.loads(text), base)


def test_events_are_typed_and_sorted_by_time() -> None:
    scenario = parse("""
        [scenario]
        name = "x"
        duration_s = 100.0
        [[events]]
        at_s = 50.0
        kind = "charge"
        current_c = 0.3
        [[events]]
        at_s = 0.0
        kind = "drive"
        profile = [{ duration_s = 10.0, current_c = -1.0 }]
        [[events]]
        at_s = 50.0
        kind = "park"
    """)
    assert [type(e) for e in scenario.events] == [DriveEvent, ChargeEvent, ParkEvent]
    assert scenario.events[1].current_c == 0.3
    assert scenario.events[0].profile[0].current_c == -1.0


@pytest.mark.parametrize(("events", "message"), [
    ('kind = "teleport"\nat_s = 1.0', "events[0].kind: 'teleport' is not one of drive"),
    ('kind = "park"', "events[0].at_s: required"),
    ('at_s = 1.0', "events[0].kind: required"),
    ('kind = "park"\nat_s = 500.0', "events[0].at_s: 500.0 is after the end"),
    ('kind = "charge"\nat_s = 1.0\ncurrent_c = -1.0',
     "events[0].current_c: must be > 0.0, got -1.0"),
    ('kind = "charge"\nat_s = 1.0\ncurrent_a = 3.0', "events[0].current_a: unknown key"),
    ('kind = "inject_cell"\nat_s = 1.0\nquantity = "pressure"',
     "events[0].quantity: must be voltage, temperature, invalid or clear"),
    ('kind = "inject_slave"\nat_s = 1.0\nfault = "explode"', "events[0].fault: must be one of"),
])
def test_bad_events_are_named(events: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(f'[scenario]\nduration_s = 100.0\n[[events]]\n{events}\n')
    assert message in str(caught.value)


def test_unknown_tables_and_missing_config() -> None:
    with pytest.raises(ConfigError, match="weather: unknown table"):
        parse("[weather]\nsun = true\n")
    with pytest.raises(ConfigError, match=r"scenario\.config: .* does not exist"):
        parse('[scenario]\nconfig = "nowhere.toml"\n')


def test_a_file_that_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[scenario\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_scenario(path)


@pytest.mark.parametrize("path", sorted((REPO / "sim" / "scenarios").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_the_example_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.events
    assert scenario.header.duration_s >= 3600
