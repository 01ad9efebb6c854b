"""The diagnosis entries as SunSpec events: every entry of the master's table has its
kind and its group, and faults and warnings set the bits they should."""

from __future__ import annotations

import pytest

from master.diagnosis.table import DEFAULT_TABLE, Group
from sunspec.events import ENTRIES, GROUPS, ConFail, Evt1, events_of


def test_every_diagnosis_entry_has_an_event_and_its_group() -> None:
    assert set(ENTRIES) == {d.name.lower() for d in DEFAULT_TABLE}
    assert {name: group for name, (_, group) in ENTRIES.items()} == \
        {d.name.lower(): spec.group.value for d, spec in DEFAULT_TABLE.items()}
    assert tuple(g.value for g in Group) == GROUPS  # the vendor bits: BmsStatus's order


@pytest.mark.parametrize(("faults", "warnings", "evt1", "con_fail"), [
    ([], [], 0, ConFail.NO_FAILURE),
    (["cell_overvoltage_msl"], [], 1 << Evt1.OVER_VOLT_ALARM, ConFail.STRING_FAULT),
    ([], ["cell_overvoltage_rsl"], 1 << Evt1.OVER_VOLT_WARNING, ConFail.NO_FAILURE),
    (["deep_discharge"], [], 1 << Evt1.UNDER_VOLT_ALARM, ConFail.STRING_FAULT),
    (["charge_overtemperature_msl"], ["discharge_undertemperature_rsl"],
     (1 << Evt1.OVER_TEMP_ALARM) | (1 << Evt1.UNDER_TEMP_WARNING), ConFail.STRING_FAULT),
    (["charge_overcurrent_msl"], ["discharge_overcurrent_rsl"],
     (1 << Evt1.OVER_CHARGE_CURRENT_ALARM) | (1 << Evt1.OVER_DISCHARGE_CURRENT_WARNING),
     ConFail.STRING_FAULT),
    ([], ["cell_voltage_spread"], 1 << Evt1.VOLTAGE_IMBALANCE_WARNING, ConFail.NO_FAILURE),
    (["contactor_welded"], [], 1 << Evt1.CONTACTOR_ERROR, ConFail.CONTACTOR_FAILURE),
    (["fuse_blown"], [], 1 << Evt1.CONTACTOR_ERROR, ConFail.FUSE_OPEN),
    (["precharge_failed"], [], 1 << Evt1.CONTACTOR_ERROR, ConFail.PRECHARGE_FAILURE),
    (["slave_lost"], [], 1 << Evt1.COMMUNICATION_ERROR, ConFail.STRING_FAULT),
    (["slave_frozen"], ["charger_lost"], (1 << Evt1.OTHER_ALARM) | (1 << Evt1.OTHER_WARNING),
     ConFail.STRING_FAULT),
    (["an_entry_of_a_newer_master"], [], 1 << Evt1.OTHER_ALARM, ConFail.STRING_FAULT),
])
def test_faults_set_alarms_and_warnings_set_warnings(
        faults: list[str], warnings: list[str], evt1: int, con_fail: ConFail) -> None:
    events = events_of(faults, warnings)
    assert (events.evt1, events.con_fail) == (evt1, con_fail)


def test_the_vendor_bits_are_the_groups() -> None:
    events = events_of(["slave_lost", "precharge_failed"], ["inverter_lost"])
    assert events.vendor_faults == (1 << GROUPS.index("Slave")) | \
        (1 << GROUPS.index("Precharge"))
    assert events.vendor_warnings == 1 << GROUPS.index("Inverter")
    assert events.con_fail is ConFail.STRING_FAULT  # the first fault's reason


def test_the_master_unheard_is_a_communication_error() -> None:
    assert events_of([], [], communication_lost=True).evt1 == 1 << Evt1.COMMUNICATION_ERROR
