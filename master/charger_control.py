"""Charging through an Elcon / TC charger: constant current, then constant voltage, then done.

The master asks the charger for a current within the power limits and for the charge
voltage; the charger regulates both (its constant-voltage phase is the taper). The charge
ends at the target SOC, or when the current has stayed below ``charge_end_c`` for
END_HOLD_S at the charge voltage, and stops at once when charging is no longer allowed
(state, faults, the charger's own flags). The command goes out every second, a stop
command too: the charger stops by itself after 5 s without one. Pure; the core feeds it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from bms.endpoint_settings import EndpointSettings
from dbc.charger_frames import ChargerFlag, ElconCommand, ElconStatus
from master.diagnosis.table import DiagId

END_HOLD_S: Final = 10.0
# the charge voltage stays this far below the operating limit
CHARGE_VOLTAGE_MARGIN_MV: Final = 50.0
CV_BAND: Final = 0.995  # within 0.5 % of the charge voltage counts as the constant-voltage phase
STATUS_TIMEOUT_S: Final = 5.0
DEFAULT_C_RATE: Final = 0.5
PCT: Final = 100.0

FLAG_ENTRIES: dict[ChargerFlag, DiagId] = {
    ChargerFlag.HARDWARE_FAILURE: DiagId.CHARGER_HARDWARE_FAILURE,
    ChargerFlag.OVER_TEMPERATURE: DiagId.CHARGER_OVERTEMPERATURE,
    ChargerFlag.INPUT_VOLTAGE_WRONG: DiagId.CHARGER_INPUT_VOLTAGE,
    ChargerFlag.BATTERY_NOT_DETECTED: DiagId.CHARGER_BATTERY_NOT_DETECTED,
    ChargerFlag.COMMUNICATION_TIMEOUT: DiagId.CHARGER_COMMUNICATION_TIMEOUT,
}


class ChargePhase(enum.Enum):
    IDLE = "idle"
    CONSTANT_CURRENT = "constant current"
    CONSTANT_VOLTAGE = "constant voltage"
    COMPLETE = "complete"


@dataclass(frozen=True)
class ChargeInputs:
    allowed: bool  # the master is in CHARGE, no fatal fault, no charger warning
    charge_limit_a: float  # the power limits' charge current
    pack_voltage_v: float
    current_a: float  # positive charges
    soc_max: float  # 0..1, the fullest cell


class ChargerControl:
    def __init__(self, settings: EndpointSettings, capacity_ah: float, cells: int,
                 overvoltage_operating_mv: float, now_s: float) -> None:
        self.current_a = settings.charge_current_a or DEFAULT_C_RATE * capacity_ah
        self.end_a = settings.charge_end_c * capacity_ah
        self.voltage_v = cells * (overvoltage_operating_mv - CHARGE_VOLTAGE_MARGIN_MV) / 1000
        self.target_soc = settings.charge_target_soc_pct / PCT
        self.phase = ChargePhase.IDLE
        self.status: ElconStatus | None = None
        self.status_at_s: float | None = None
        self.started_s = now_s
        self._below_end_since_s: float | None = None
        self.completions = 0

    def on_status(self, status: ElconStatus, now_s: float) -> None:
        self.status, self.status_at_s = status, now_s

    def observations(self, now_s: float, charging: bool) -> list[tuple[DiagId, bool]]:
        """What the diagnosis should see: the charger's flags, and silence while charging."""
        flags = self.status.flags if self.status is not None else ChargerFlag.NONE
        observed = [(entry, bool(flags & flag)) for flag, entry in FLAG_ENTRIES.items()]
        silent = (self.status_at_s is None and now_s - self.started_s > STATUS_TIMEOUT_S) or (
            self.status_at_s is not None and now_s - self.status_at_s > STATUS_TIMEOUT_S)
        observed.append((DiagId.CHARGER_LOST, charging and silent))
        return observed

    def command(self, now_s: float, inputs: ChargeInputs) -> ElconCommand:
        """The command of this second (start with limits, or stop)."""
        if not inputs.allowed or self.phase is ChargePhase.COMPLETE:
            if self.phase is not ChargePhase.COMPLETE:
                self.phase = ChargePhase.IDLE
            self._below_end_since_s = None
            return ElconCommand(self.voltage_v, 0.0, start=False)
        at_voltage = inputs.pack_voltage_v >= self.voltage_v * CV_BAND
        self.phase = ChargePhase.CONSTANT_VOLTAGE if at_voltage else \
            ChargePhase.CONSTANT_CURRENT
        if inputs.soc_max >= self.target_soc or self._ended(now_s, at_voltage, inputs):
            self.phase = ChargePhase.COMPLETE
            self.completions += 1
            return ElconCommand(self.voltage_v, 0.0, start=False)
        current = max(0.0, min(self.current_a, inputs.charge_limit_a))
        return ElconCommand(self.voltage_v, current, start=True)

    def _ended(self, now_s: float, at_voltage: bool, inputs: ChargeInputs) -> bool:
        if not at_voltage or inputs.current_a >= self.end_a:
            self._below_end_since_s = None
            return False
        if self._below_end_since_s is None:
            self._below_end_since_s = now_s
        return now_s - self._below_end_since_s >= END_HOLD_S

    def rearm(self) -> None:
        """A new charge request (the master left CHARGE and came back)."""
        self.phase = ChargePhase.IDLE
        self._below_end_since_s = None
