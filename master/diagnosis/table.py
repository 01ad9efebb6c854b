"""The diagnosis table: every entry's code, group, severity, debounce and reaction delay.

Codes are the reason codes on the vehicle bus (value table ``FaultReason`` in
dbc/vehicle.dbc). Limits come from `master/diagnosis/limits.py` (`resolve_limits`); tiers follow
docs/PROTOCOLS.md section 8: operating limit (info), recommended safety limit (warning),
maximum safety limit (fatal: contactors open).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    FATAL = 2


class Group(enum.Enum):
    """Fault and warning groups reported to the VCU (one flag each in BmsStatus)."""

    CELL_VOLTAGE = "CellVoltage"
    CELL_TEMPERATURE = "CellTemperature"
    CURRENT = "Current"
    CURRENT_SENSOR = "CurrentSensor"
    SLAVE = "Slave"
    VCU = "Vcu"
    CONTACTOR = "Contactor"
    PRECHARGE = "Precharge"
    PLAUSIBILITY = "Plausibility"
    BUS = "Bus"
    CHARGER = "Charger"
    INVERTER = "Inverter"


class DiagId(enum.IntEnum):
    CELL_OVERVOLTAGE_MOL = 1
    CELL_OVERVOLTAGE_RSL = 2
    CELL_OVERVOLTAGE_MSL = 3
    CELL_UNDERVOLTAGE_MOL = 4
    CELL_UNDERVOLTAGE_RSL = 5
    CELL_UNDERVOLTAGE_MSL = 6
    DEEP_DISCHARGE = 7
    DISCHARGE_OVERTEMPERATURE_MOL = 10
    DISCHARGE_OVERTEMPERATURE_RSL = 11
    DISCHARGE_OVERTEMPERATURE_MSL = 12
    DISCHARGE_UNDERTEMPERATURE_MOL = 13
    DISCHARGE_UNDERTEMPERATURE_RSL = 14
    DISCHARGE_UNDERTEMPERATURE_MSL = 15
    CHARGE_OVERTEMPERATURE_MOL = 16
    CHARGE_OVERTEMPERATURE_RSL = 17
    CHARGE_OVERTEMPERATURE_MSL = 18
    CHARGE_UNDERTEMPERATURE_MOL = 19
    CHARGE_UNDERTEMPERATURE_RSL = 20
    CHARGE_UNDERTEMPERATURE_MSL = 21
    DISCHARGE_OVERCURRENT_MOL = 30
    DISCHARGE_OVERCURRENT_RSL = 31
    DISCHARGE_OVERCURRENT_MSL = 32
    CHARGE_OVERCURRENT_MOL = 33
    CHARGE_OVERCURRENT_RSL = 34
    CHARGE_OVERCURRENT_MSL = 35
    CELL_VOLTAGE_SPREAD = 40
    PACK_VOLTAGE_PLAUSIBILITY = 41
    TEMPERATURE_SPREAD = 42
    CURRENT_SENSOR_LOST = 50
    CURRENT_SENSOR_INVALID = 51
    CURRENT_SENSOR_FLAGGED = 52
    CURRENT_SENSOR_SETUP_FAILED = 53
    SLAVE_STALE = 60
    SLAVE_LOST = 61
    SLAVE_E2E = 62
    SLAVE_AFE_FAULT = 63
    MEASUREMENT_INVALID = 64
    SLAVE_FROZEN = 65
    SLAVE_BALANCING_UNREQUESTED = 66
    SLAVE_READINGS_FLIPPING = 67
    SLAVE_IGNORES_CURRENT = 68
    VCU_LOST = 70
    CONTACTOR_WELDED = 80
    CONTACTOR_FAILED_TO_CLOSE = 81
    CONTACTOR_FEEDBACK_LOST = 82
    FUSE_BLOWN = 83
    PRECHARGE_FAILED = 90
    PACK_BUS_OFF = 100
    PACK_BUS_ERROR_PASSIVE = 101
    CHARGER_HARDWARE_FAILURE = 110
    CHARGER_OVERTEMPERATURE = 111
    CHARGER_INPUT_VOLTAGE = 112
    CHARGER_BATTERY_NOT_DETECTED = 113
    CHARGER_COMMUNICATION_TIMEOUT = 114
    CHARGER_LOST = 115
    INVERTER_LOST = 120

    # every observation hashes its entry: the integer's hash is far cheaper than Enum's
    __hash__ = int.__hash__


@dataclass(frozen=True)
class EntrySpec:
    """How the diagnosis treats observations of one entry.

    The up/down counter rises by one per violating observation and falls by one per good
    one: the entry becomes active when it reaches ``debounce_set``, and clears when it has
    fallen back to zero from ``debounce_clear``. A fatal entry triggers the reaction
    (contactors open) ``reaction_delay_s`` after it became active. A latching entry stays
    active until a service reset.
    """

    group: Group
    severity: Severity
    debounce_set: int
    debounce_clear: int
    reaction_delay_s: float = 0.0
    latching: bool = False

    @property
    def fatal(self) -> bool:
        return self.severity is Severity.FATAL


def _tiers(mol: DiagId, rsl: DiagId, msl: DiagId, group: Group, debounce: int,
           clear: int) -> dict[DiagId, EntrySpec]:
    return {
        mol: EntrySpec(group, Severity.INFO, debounce, clear),
        rsl: EntrySpec(group, Severity.WARNING, debounce, clear),
        msl: EntrySpec(group, Severity.FATAL, debounce, clear),
    }


V, T, I = Group.CELL_VOLTAGE, Group.CELL_TEMPERATURE, Group.CURRENT  # noqa: E741
D = DiagId

# Debounce counts are observations: cell voltages arrive every 100 ms (3 -> at most 300 ms),
# temperatures every 500 ms, the current every 10 ms (5 -> 50 ms). Timeouts (lost links)
# are their own debounce: one observation per master tick once the timeout has passed.
DEFAULT_TABLE: dict[DiagId, EntrySpec] = {
    **_tiers(D.CELL_OVERVOLTAGE_MOL, D.CELL_OVERVOLTAGE_RSL, D.CELL_OVERVOLTAGE_MSL, V, 3, 3),
    **_tiers(D.CELL_UNDERVOLTAGE_MOL, D.CELL_UNDERVOLTAGE_RSL, D.CELL_UNDERVOLTAGE_MSL, V, 3, 3),
    D.DEEP_DISCHARGE: EntrySpec(V, Severity.FATAL, 3, 3, latching=True),
    **_tiers(D.DISCHARGE_OVERTEMPERATURE_MOL, D.DISCHARGE_OVERTEMPERATURE_RSL,
             D.DISCHARGE_OVERTEMPERATURE_MSL, T, 3, 3),
    **_tiers(D.DISCHARGE_UNDERTEMPERATURE_MOL, D.DISCHARGE_UNDERTEMPERATURE_RSL,
             D.DISCHARGE_UNDERTEMPERATURE_MSL, T, 3, 3),
    **_tiers(D.CHARGE_OVERTEMPERATURE_MOL, D.CHARGE_OVERTEMPERATURE_RSL,
             D.CHARGE_OVERTEMPERATURE_MSL, T, 3, 3),
    **_tiers(D.CHARGE_UNDERTEMPERATURE_MOL, D.CHARGE_UNDERTEMPERATURE_RSL,
             D.CHARGE_UNDERTEMPERATURE_MSL, T, 3, 3),
    **_tiers(D.DISCHARGE_OVERCURRENT_MOL, D.DISCHARGE_OVERCURRENT_RSL,
             D.DISCHARGE_OVERCURRENT_MSL, I, 5, 10),
    **_tiers(D.CHARGE_OVERCURRENT_MOL, D.CHARGE_OVERCURRENT_RSL,
             D.CHARGE_OVERCURRENT_MSL, I, 5, 10),
    D.CELL_VOLTAGE_SPREAD: EntrySpec(Group.PLAUSIBILITY, Severity.WARNING, 5, 5),
    D.PACK_VOLTAGE_PLAUSIBILITY: EntrySpec(Group.PLAUSIBILITY, Severity.FATAL, 5, 5),
    D.TEMPERATURE_SPREAD: EntrySpec(Group.PLAUSIBILITY, Severity.WARNING, 3, 3),
    D.CURRENT_SENSOR_LOST: EntrySpec(Group.CURRENT_SENSOR, Severity.FATAL, 1, 1),
    D.CURRENT_SENSOR_INVALID: EntrySpec(Group.CURRENT_SENSOR, Severity.FATAL, 3, 3),
    D.CURRENT_SENSOR_FLAGGED: EntrySpec(Group.CURRENT_SENSOR, Severity.FATAL, 3, 3),
    # [sensor] configure: the IVT-S did not take its configuration; its readings can be in
    # another byte order (-1 A read as +419 kA) or period: none is trusted, nothing closes
    D.CURRENT_SENSOR_SETUP_FAILED: EntrySpec(Group.CURRENT_SENSOR, Severity.FATAL, 1, 1),
    D.SLAVE_STALE: EntrySpec(Group.SLAVE, Severity.WARNING, 1, 1),
    D.SLAVE_LOST: EntrySpec(Group.SLAVE, Severity.FATAL, 1, 1),
    D.SLAVE_E2E: EntrySpec(Group.SLAVE, Severity.FATAL, 5, 5),
    D.SLAVE_AFE_FAULT: EntrySpec(Group.SLAVE, Severity.FATAL, 2, 2),
    D.MEASUREMENT_INVALID: EntrySpec(Group.SLAVE, Severity.FATAL, 5, 5),
    D.SLAVE_FROZEN: EntrySpec(Group.SLAVE, Severity.FATAL, 1, 1),
    D.SLAVE_BALANCING_UNREQUESTED: EntrySpec(Group.SLAVE, Severity.WARNING, 3, 3),
    D.SLAVE_READINGS_FLIPPING: EntrySpec(Group.SLAVE, Severity.FATAL, 1, 1),
    D.SLAVE_IGNORES_CURRENT: EntrySpec(Group.SLAVE, Severity.FATAL, 2, 2),
    D.VCU_LOST: EntrySpec(Group.VCU, Severity.FATAL, 1, 1),
    D.CONTACTOR_WELDED: EntrySpec(Group.CONTACTOR, Severity.FATAL, 2, 2),
    D.CONTACTOR_FAILED_TO_CLOSE: EntrySpec(Group.CONTACTOR, Severity.FATAL, 2, 2),
    D.CONTACTOR_FEEDBACK_LOST: EntrySpec(Group.CONTACTOR, Severity.FATAL, 1, 1),
    D.FUSE_BLOWN: EntrySpec(Group.CONTACTOR, Severity.FATAL, 1, 1, latching=True),
    D.PRECHARGE_FAILED: EntrySpec(Group.PRECHARGE, Severity.FATAL, 1, 1),
    D.PACK_BUS_OFF: EntrySpec(Group.BUS, Severity.FATAL, 1, 1),
    D.PACK_BUS_ERROR_PASSIVE: EntrySpec(Group.BUS, Severity.WARNING, 1, 1),
    # a charger that reports a problem, or is silent, ends the charge (warning: the pack
    # itself is fine, so the contactors stay as they are); one status frame a second
    D.CHARGER_HARDWARE_FAILURE: EntrySpec(Group.CHARGER, Severity.WARNING, 1, 1),
    D.CHARGER_OVERTEMPERATURE: EntrySpec(Group.CHARGER, Severity.WARNING, 1, 1),
    D.CHARGER_INPUT_VOLTAGE: EntrySpec(Group.CHARGER, Severity.WARNING, 1, 1),
    D.CHARGER_BATTERY_NOT_DETECTED: EntrySpec(Group.CHARGER, Severity.WARNING, 1, 1),
    D.CHARGER_COMMUNICATION_TIMEOUT: EntrySpec(Group.CHARGER, Severity.WARNING, 1, 1),
    D.CHARGER_LOST: EntrySpec(Group.CHARGER, Severity.WARNING, 1, 1),
    D.INVERTER_LOST: EntrySpec(Group.INVERTER, Severity.WARNING, 1, 1),
}
del V, T, I, D
