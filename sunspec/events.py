"""The pack's diagnosis entries as SunSpec events: model 802's ``Evt1`` (and 803's
``StrEvt1``, 804's ``Evt1``), the vendor bitfields ``EvtVnd1`` / ``EvtVnd2`` and the
connection failure reason (803 ``StrConFail``, 804 ``ConFail``). Table-driven: each entry
the master publishes (``faults`` and ``warnings`` of the state topic, lower-case names of
master/diagnosis/table.py) has a SunSpec event kind and its diagnosis group; a fault sets the
kind's alarm bit, a warning its warning bit. An entry this table does not know (a newer
master) is OTHER_ALARM / OTHER_WARNING.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Evt1(enum.IntEnum):
    """Bit numbers of 802 ``Evt1`` (the same bits in 803 ``StrEvt1`` and 804 ``Evt1``)."""

    COMMUNICATION_ERROR = 0
    OVER_TEMP_ALARM = 1
    OVER_TEMP_WARNING = 2
    UNDER_TEMP_ALARM = 3
    UNDER_TEMP_WARNING = 4
    OVER_CHARGE_CURRENT_ALARM = 5
    OVER_CHARGE_CURRENT_WARNING = 6
    OVER_DISCHARGE_CURRENT_ALARM = 7
    OVER_DISCHARGE_CURRENT_WARNING = 8
    OVER_VOLT_ALARM = 9
    OVER_VOLT_WARNING = 10
    UNDER_VOLT_ALARM = 11
    UNDER_VOLT_WARNING = 12
    UNDER_SOC_MIN_ALARM = 13
    UNDER_SOC_MIN_WARNING = 14
    OVER_SOC_MAX_ALARM = 15
    OVER_SOC_MAX_WARNING = 16
    VOLTAGE_IMBALANCE_WARNING = 17
    TEMPERATURE_IMBALANCE_ALARM = 18
    TEMPERATURE_IMBALANCE_WARNING = 19
    CONTACTOR_ERROR = 20
    FAN_ERROR = 21
    GROUND_FAULT = 22
    OPEN_DOOR_ERROR = 23
    OTHER_ALARM = 25
    OTHER_WARNING = 26
    CONFIGURATION_ALARM = 28
    CONFIGURATION_WARNING = 29


class ConFail(enum.IntEnum):
    """803 ``StrConFail`` / 804 ``ConFail``: why the string is not connected."""

    NO_FAILURE = 0
    FUSE_OPEN = 5
    CONTACTOR_FAILURE = 6
    PRECHARGE_FAILURE = 7
    STRING_FAULT = 8


E = Evt1
# kind -> (the bit a fault sets, the bit a warning sets); one bit where SunSpec has one
KINDS: dict[str, tuple[Evt1, Evt1]] = {
    "over_volt": (E.OVER_VOLT_ALARM, E.OVER_VOLT_WARNING),
    "under_volt": (E.UNDER_VOLT_ALARM, E.UNDER_VOLT_WARNING),
    "over_temp": (E.OVER_TEMP_ALARM, E.OVER_TEMP_WARNING),
    "under_temp": (E.UNDER_TEMP_ALARM, E.UNDER_TEMP_WARNING),
    "over_charge_current": (E.OVER_CHARGE_CURRENT_ALARM, E.OVER_CHARGE_CURRENT_WARNING),
    "over_discharge_current": (E.OVER_DISCHARGE_CURRENT_ALARM,
                               E.OVER_DISCHARGE_CURRENT_WARNING),
    "voltage_imbalance": (E.VOLTAGE_IMBALANCE_WARNING, E.VOLTAGE_IMBALANCE_WARNING),
    "temperature_imbalance": (E.TEMPERATURE_IMBALANCE_ALARM, E.TEMPERATURE_IMBALANCE_WARNING),
    "contactor": (E.CONTACTOR_ERROR, E.CONTACTOR_ERROR),
    "communication": (E.COMMUNICATION_ERROR, E.COMMUNICATION_ERROR),
    "configuration": (E.CONFIGURATION_ALARM, E.CONFIGURATION_WARNING),
    "other": (E.OTHER_ALARM, E.OTHER_WARNING),
}
del E

# The diagnosis groups in the order of BmsStatus's flags: bit i of EvtVnd1 is a fault of
# group i, of EvtVnd2 a warning of group i.
GROUPS = ("CellVoltage", "CellTemperature", "Current", "CurrentSensor", "Slave", "Vcu",
          "Contactor", "Precharge", "Plausibility", "Bus", "Charger", "Inverter")


def _tiers(stem: str, kind: str, group: str) -> dict[str, tuple[str, str]]:
    return {f"{stem}_{tier}": (kind, group) for tier in ("mol", "rsl", "msl")}


# entry -> (kind, group)
ENTRIES: dict[str, tuple[str, str]] = {
    **_tiers("cell_overvoltage", "over_volt", "CellVoltage"),
    **_tiers("cell_undervoltage", "under_volt", "CellVoltage"),
    "deep_discharge": ("under_volt", "CellVoltage"),
    **_tiers("discharge_overtemperature", "over_temp", "CellTemperature"),
    **_tiers("discharge_undertemperature", "under_temp", "CellTemperature"),
    **_tiers("charge_overtemperature", "over_temp", "CellTemperature"),
    **_tiers("charge_undertemperature", "under_temp", "CellTemperature"),
    **_tiers("discharge_overcurrent", "over_discharge_current", "Current"),
    **_tiers("charge_overcurrent", "over_charge_current", "Current"),
    "cell_voltage_spread": ("voltage_imbalance", "Plausibility"),
    "pack_voltage_plausibility": ("other", "Plausibility"),
    "temperature_spread": ("temperature_imbalance", "Plausibility"),
    "current_sensor_lost": ("communication", "CurrentSensor"),
    "current_sensor_invalid": ("other", "CurrentSensor"),
    "current_sensor_flagged": ("other", "CurrentSensor"),
    "current_sensor_setup_failed": ("configuration", "CurrentSensor"),
    "slave_stale": ("communication", "Slave"),
    "slave_lost": ("communication", "Slave"),
    "slave_e2e": ("communication", "Slave"),
    "slave_afe_fault": ("other", "Slave"),
    "measurement_invalid": ("other", "Slave"),
    "slave_frozen": ("other", "Slave"),
    "slave_balancing_unrequested": ("other", "Slave"),
    "slave_readings_flipping": ("other", "Slave"),
    "slave_ignores_current": ("other", "Slave"),
    "vcu_lost": ("communication", "Vcu"),
    "contactor_welded": ("contactor", "Contactor"),
    "contactor_failed_to_close": ("contactor", "Contactor"),
    "contactor_feedback_lost": ("contactor", "Contactor"),
    "fuse_blown": ("contactor", "Contactor"),
    "precharge_failed": ("contactor", "Precharge"),
    "pack_bus_off": ("communication", "Bus"),
    "pack_bus_error_passive": ("communication", "Bus"),
    "charger_hardware_failure": ("other", "Charger"),
    "charger_overtemperature": ("other", "Charger"),
    "charger_input_voltage": ("other", "Charger"),
    "charger_battery_not_detected": ("other", "Charger"),
    "charger_communication_timeout": ("other", "Charger"),
    "charger_lost": ("other", "Charger"),
    "inverter_lost": ("communication", "Inverter"),
}

# a fault of these groups (or this entry) says why the string cannot connect
CON_FAIL_BY_GROUP = {"Contactor": ConFail.CONTACTOR_FAILURE,
                     "Precharge": ConFail.PRECHARGE_FAILURE}
CON_FAIL_BY_ENTRY = {"fuse_blown": ConFail.FUSE_OPEN}


@dataclass(frozen=True)
class Events:
    evt1: int
    vendor_faults: int  # EvtVnd1
    vendor_warnings: int  # EvtVnd2
    con_fail: ConFail


def events_of(faults: Iterable[str], warnings: Iterable[str],
              communication_lost: bool = False) -> Events:
    """The bitfields of the active ``faults`` and ``warnings``; ``communication_lost``: the
    server has not heard the master (COMMUNICATION_ERROR)."""
    evt1 = 1 << Evt1.COMMUNICATION_ERROR if communication_lost else 0
    vendor = [0, 0]
    con_fail = ConFail.NO_FAILURE
    for severity, entries in ((0, faults), (1, warnings)):
        for entry in entries:
            kind, group = ENTRIES.get(entry, ("other", ""))
            evt1 |= 1 << KINDS[kind][severity]
            if group in GROUPS:
                vendor[severity] |= 1 << GROUPS.index(group)
            if severity == 0 and con_fail is ConFail.NO_FAILURE:
                con_fail = CON_FAIL_BY_ENTRY.get(
                    entry, CON_FAIL_BY_GROUP.get(group, ConFail.STRING_FAULT))
    return Events(evt1, vendor[0], vendor[1], con_fail)
