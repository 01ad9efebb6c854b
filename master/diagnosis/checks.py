"""The checks: each turns fresh inputs into observations for the diagnosis engine.

A check only says what it saw (value against limit, or a condition); the table decides what
that means. Tiered checks observe three entries, one per tier.
"""

from __future__ import annotations

from dbc.frames import ModuleFault
from dbc.ivt import INVALIDATING_BITS, OVER_CURRENT_BIT, IvtFlag
from master.diagnosis.engine import DiagnosisEngine
from master.diagnosis.limits import Limits, TierLimits
from master.diagnosis.table import DiagId
from master.events import PACK, Location

D = DiagId
TIERS: dict[str, tuple[DiagId, DiagId, DiagId]] = {
    "cell_overvoltage_mv": (D.CELL_OVERVOLTAGE_MOL, D.CELL_OVERVOLTAGE_RSL,
                            D.CELL_OVERVOLTAGE_MSL),
    "cell_undervoltage_mv": (D.CELL_UNDERVOLTAGE_MOL, D.CELL_UNDERVOLTAGE_RSL,
                             D.CELL_UNDERVOLTAGE_MSL),
    "discharge_overtemperature_degc": (D.DISCHARGE_OVERTEMPERATURE_MOL,
                                       D.DISCHARGE_OVERTEMPERATURE_RSL,
                                       D.DISCHARGE_OVERTEMPERATURE_MSL),
    "discharge_undertemperature_degc": (D.DISCHARGE_UNDERTEMPERATURE_MOL,
                                        D.DISCHARGE_UNDERTEMPERATURE_RSL,
                                        D.DISCHARGE_UNDERTEMPERATURE_MSL),
    "charge_overtemperature_degc": (D.CHARGE_OVERTEMPERATURE_MOL, D.CHARGE_OVERTEMPERATURE_RSL,
                                    D.CHARGE_OVERTEMPERATURE_MSL),
    "charge_undertemperature_degc": (D.CHARGE_UNDERTEMPERATURE_MOL,
                                     D.CHARGE_UNDERTEMPERATURE_RSL,
                                     D.CHARGE_UNDERTEMPERATURE_MSL),
    "discharge_overcurrent_a": (D.DISCHARGE_OVERCURRENT_MOL, D.DISCHARGE_OVERCURRENT_RSL,
                                D.DISCHARGE_OVERCURRENT_MSL),
    "charge_overcurrent_a": (D.CHARGE_OVERCURRENT_MOL, D.CHARGE_OVERCURRENT_RSL,
                             D.CHARGE_OVERCURRENT_MSL),
}
AFE_FAULTS = (ModuleFault.AFE_COMM | ModuleFault.OPEN_WIRE | ModuleFault.MEASUREMENT_RANGE
              | ModuleFault.TEMPERATURE_SENSOR | ModuleFault.INTERNAL)
del D


class Checks:
    def __init__(self, engine: DiagnosisEngine, limits: Limits) -> None:
        self.engine = engine
        self.limits = limits
        self._window_of: Limits | None = None
        self._window_mv = (0.0, 0.0)

    def _cell_window_mv(self) -> tuple[float, float]:
        """(low, high): a cell voltage inside needs no check (the operating limits, and
        above deep discharge); worked out again whenever the limits are replaced."""
        limits = self.limits
        if limits is not self._window_of:
            self._window_of = limits
            self._window_mv = (max(limits.cell_undervoltage_mv.operating,
                                   limits.deep_discharge_mv),
                               limits.cell_overvoltage_mv.operating)
        return self._window_mv

    def tiered(self, name: str, location: Location, value: float, now_s: float) -> None:
        limits: TierLimits = getattr(self.limits, name)
        entries = TIERS[name]
        # the tiers nest: inside the operating limit, every tier is inside too
        inside = value <= limits.operating if limits.above else value >= limits.operating
        if inside and not any(self.engine.has_state(e, location) for e in entries):
            return
        for entry, limit in zip(entries, limits.tiers(), strict=True):
            self.engine.observe_limit(entry, location, value, limit, limits.hysteresis,
                                      limits.above, now_s)

    def tiered_ok(self, name: str, location: Location, now_s: float) -> None:
        """The quantity does not apply now (charge limits while discharging): all good."""
        for entry in TIERS[name]:
            self.engine.observe(entry, location, False, now_s)

    def cell_voltages(self, module: int, first_cell: int, voltages_mv: tuple[int | None, ...],
                      cells_per_module: int, now_s: float) -> None:
        # the common case: every reading valid and inside the operating limits, nothing
        # pending (checked for every CellVoltages frame)
        used = min(len(voltages_mv), cells_per_module - first_cell)
        if used > 0 and not self.engine.module_has_state(module):
            low, high = self._cell_window_mv()
            for index in range(used):
                mv = voltages_mv[index]
                if mv is None or not low <= mv <= high:
                    break
            else:
                return
        deep = self.limits.deep_discharge_mv
        for offset, mv in enumerate(voltages_mv):
            cell = first_cell + offset
            if cell >= cells_per_module:
                break
            location = Location(module, cell)
            self.engine.observe(DiagId.MEASUREMENT_INVALID, location, mv is None, now_s)
            if mv is None:
                continue
            self.tiered("cell_overvoltage_mv", location, mv, now_s)
            self.tiered("cell_undervoltage_mv", location, mv, now_s)
            self.engine.observe(DiagId.DEEP_DISCHARGE, location, mv < deep, now_s, mv, deep)

    def temperatures(self, module: int, first_sensor: int,
                     temperatures_degc: tuple[float | None, ...], sensors_per_module: int,
                     charging: bool, now_s: float) -> None:
        used = _complete(temperatures_degc[:max(0, sensors_per_module - first_sensor)])
        if used and not self.engine.module_has_state(module):
            limits = self.limits
            high = limits.charge_overtemperature_degc.operating if charging else \
                limits.discharge_overtemperature_degc.operating
            low = limits.charge_undertemperature_degc.operating if charging else \
                limits.discharge_undertemperature_degc.operating
            if max(used) <= high and min(used) >= low:
                return
        for offset, degc in enumerate(temperatures_degc):
            sensor = first_sensor + offset
            if sensor >= sensors_per_module:
                break
            location = Location(module, sensor)
            self.engine.observe(DiagId.MEASUREMENT_INVALID, location, degc is None, now_s)
            if degc is None:
                continue
            self.tiered("discharge_overtemperature_degc", location, degc, now_s)
            self.tiered("discharge_undertemperature_degc", location, degc, now_s)
            for name in ("charge_overtemperature_degc", "charge_undertemperature_degc"):
                if charging:
                    self.tiered(name, location, degc, now_s)
                else:
                    self.tiered_ok(name, location, now_s)

    def current(self, current_a: float, flags: IvtFlag, now_s: float) -> None:
        bits = int(flags)
        invalid = bool(bits & INVALIDATING_BITS)
        self.engine.observe(DiagId.CURRENT_SENSOR_INVALID, PACK, invalid, now_s)
        self.engine.observe(DiagId.CURRENT_SENSOR_FLAGGED, PACK, bool(bits & OVER_CURRENT_BIT),
                            now_s)
        if invalid:
            return
        self.tiered("discharge_overcurrent_a", PACK, -current_a, now_s)
        self.tiered("charge_overcurrent_a", PACK, current_a, now_s)

    def module_status(self, module: int, faults: ModuleFault, now_s: float) -> None:
        afe_faults = faults & AFE_FAULTS if faults else 0
        self.engine.observe(DiagId.SLAVE_AFE_FAULT, Location(module), bool(afe_faults), now_s,
                            float(afe_faults))

    def spreads(self, min_mv: float, max_mv: float, min_degc: float | None,
                max_degc: float | None, now_s: float) -> None:
        spread = max_mv - min_mv
        limit = self.limits.cell_voltage_spread_mv
        self.engine.observe(DiagId.CELL_VOLTAGE_SPREAD, PACK, spread > limit, now_s, spread,
                            limit)
        if min_degc is not None and max_degc is not None:
            spread = max_degc - min_degc
            limit = self.limits.temperature_spread_degc
            self.engine.observe(DiagId.TEMPERATURE_SPREAD, PACK, spread > limit, now_s,
                                spread, limit)

    def pack_voltage(self, sum_of_cells_v: float, sensor_v: float, now_s: float) -> None:
        difference = abs(sum_of_cells_v - sensor_v)
        limit = self.limits.pack_voltage_plausibility_v
        self.engine.observe(DiagId.PACK_VOLTAGE_PLAUSIBILITY, PACK, difference > limit, now_s,
                            difference, limit)


def _complete(values: tuple[float | None, ...]) -> list[float] | None:
    """The values, when none of them is invalid."""
    valid = [v for v in values if v is not None]
    return valid if len(valid) == len(values) else None
