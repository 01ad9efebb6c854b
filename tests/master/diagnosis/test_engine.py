"""The engine: up/down debounce, hysteresis, latching, reaction delay, table overrides."""

import dataclasses

import pytest

from bms.errors import ConfigError
from bms.settings import DiagnosisOverride
from master.diagnosis.engine import DiagnosisEngine, build_table
from master.diagnosis.table import DEFAULT_TABLE, DiagId, EntrySpec, Group, Severity
from master.events import PACK, DiagnosisChange, Location

E = DiagId.CELL_OVERVOLTAGE_MSL
HERE = Location(0, 1)


def engine(**spec: object) -> DiagnosisEngine:
    base = EntrySpec(Group.CELL_VOLTAGE, Severity.FATAL, debounce_set=3, debounce_clear=2)
    return DiagnosisEngine({E: dataclasses.replace(base, **spec)})  # type: ignore[arg-type]


def feed(e: DiagnosisEngine, pattern: str, start_s: float = 0.0) -> list[bool]:
    """'x' violates, '.' is good; returns the active flag after each observation."""
    active = []
    for i, mark in enumerate(pattern):
        e.observe(E, HERE, mark == "x", start_s + i, 4300.0, 4250.0)
        active.append(e.is_active(E, HERE))
    return active


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("xx", "00"),  # below the debounce count
        ("xxx", "001"),  # active at the third violation
        ("xx.xx", "00001"),  # a good sample in between counts down: 1 2 1 2 3
        ("xxx.", "0011"),  # clearing needs debounce_clear good samples
        ("xxx..", "00110"),
        ("xxx.x..", "0011110"),  # a violation while clearing counts up again
        ("xxxxxxx..", "001111110"),  # the counter saturates: two goods clear
    ],
)
def test_up_down_counter(pattern: str, expected: str) -> None:
    assert "".join("1" if a else "0" for a in feed(engine(), pattern)) == expected


def test_events_carry_time_location_value_limit() -> None:
    e = engine()
    feed(e, "xxx..")
    set_, cleared = e.events
    assert (set_.change, set_.time_s, set_.location, set_.value, set_.limit) == \
        (DiagnosisChange.SET, 2.0, HERE, 4300.0, 4250.0)
    assert (cleared.change, cleared.time_s, cleared.severity) == \
        (DiagnosisChange.CLEARED, 4.0, Severity.FATAL)


def test_locations_are_independent() -> None:
    e = engine(debounce_set=1)
    e.observe(E, Location(0, 1), True, 0.0)
    assert e.is_active(E, Location(0, 1))
    assert not e.is_active(E, Location(0, 2))


def test_hysteresis_of_limit_observations() -> None:
    e = engine(debounce_set=1, debounce_clear=1)
    e.observe_limit(E, HERE, 4251.0, 4250.0, 20.0, True, 0.0)
    assert e.is_active(E, HERE)
    e.observe_limit(E, HERE, 4240.0, 4250.0, 20.0, True, 1.0)  # below the limit, not by 20
    assert e.is_active(E, HERE)
    e.observe_limit(E, HERE, 4229.0, 4250.0, 20.0, True, 2.0)
    assert not e.is_active(E, HERE)
    e.observe_limit(E, HERE, 2590.0, 2600.0, 20.0, False, 3.0)  # a low-side limit
    assert e.is_active(E, HERE)


def test_reaction_delay() -> None:
    e = engine(debounce_set=1, reaction_delay_s=0.5)
    e.observe(E, HERE, True, 10.0)
    assert e.fatal_due(10.4) is None
    assert e.fatal_due(10.5) == (E, HERE)


def test_latching_entry_needs_a_service_reset() -> None:
    e = engine(debounce_set=1, debounce_clear=1, latching=True)
    e.observe(E, HERE, True, 0.0)
    e.observe(E, HERE, False, 1.0)
    e.observe(E, HERE, False, 2.0)
    assert e.is_active(E, HERE)
    e.service_reset(3.0)
    assert not e.is_active(E, HERE)
    assert e.events[-1].change is DiagnosisChange.RESET


def test_service_reset_keeps_a_latched_entry_whose_cause_remains() -> None:
    e = engine(debounce_set=1, debounce_clear=2, latching=True)
    e.observe(E, HERE, True, 0.0)
    e.service_reset(1.0)
    assert e.is_active(E, HERE)


def test_groups_and_ordering() -> None:
    e = DiagnosisEngine(DEFAULT_TABLE)
    e.observe(DiagId.SLAVE_LOST, Location(2), True, 5.0)
    e.observe(DiagId.VCU_LOST, PACK, True, 4.0)
    e.observe(DiagId.SLAVE_STALE, Location(2), True, 3.0)
    assert [entry for entry, _, _ in e.active(Severity.FATAL)] == [DiagId.VCU_LOST,
                                                                   DiagId.SLAVE_LOST]
    assert e.groups(Severity.FATAL) == {Group.SLAVE, Group.VCU}
    assert e.groups(Severity.WARNING) == {Group.SLAVE}


def test_overrides_change_the_table_and_unknown_names_are_refused() -> None:
    table = build_table({"cell_overvoltage_msl": DiagnosisOverride(debounce_set=7,
                                                                    reaction_delay_s=0.2)})
    assert table[E].debounce_set == 7
    assert table[E].reaction_delay_s == 0.2
    assert table[E].severity is Severity.FATAL
    with pytest.raises(ConfigError, match=r"diagnosis\.cell_overvoltag_msl: unknown"):
        build_table({"cell_overvoltag_msl": DiagnosisOverride(debounce_set=1)})


def test_table_covers_every_entry_and_vehicle_reason_codes_match() -> None:
    from dbc.codec import vehicle_codec

    assert set(DEFAULT_TABLE) == set(DiagId)
    reasons = vehicle_codec().layout("BmsStatus").choices("FaultReason")
    assert reasons.pop(0) == "None"
    assert reasons == {e.value: "".join(p.capitalize() for p in e.name.split("_"))
                       for e in DiagId}
