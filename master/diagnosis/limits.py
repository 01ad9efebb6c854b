"""Safety limits in three tiers per chemistry (docs/PROTOCOLS.md section 8), with the pack
configuration's overrides applied.

Tiers: operating limit (MOL, info), recommended safety limit (RSL, warning), maximum safety
limit (MSL, fatal). A high-side limit is violated above its value, a low-side one below;
once violated it must come back by the hysteresis before it counts as good again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import cast

from bms.chemistry import cell_capacity_ah, pack_cell
from bms.errors import ConfigError
from bms.settings import Chemistry, LimitOverrides, Settings


@dataclass(frozen=True)
class TierLimits:
    operating: float
    recommended: float
    maximum: float
    hysteresis: float
    above: bool  # True: violated above the limit (over-voltage); False: below

    def tiers(self) -> tuple[float, float, float]:
        return (self.operating, self.recommended, self.maximum)


@dataclass(frozen=True)
class Limits:
    cell_overvoltage_mv: TierLimits
    cell_undervoltage_mv: TierLimits
    deep_discharge_mv: float
    discharge_overtemperature_degc: TierLimits
    discharge_undertemperature_degc: TierLimits
    charge_overtemperature_degc: TierLimits
    charge_undertemperature_degc: TierLimits
    discharge_overcurrent_a: TierLimits
    charge_overcurrent_a: TierLimits
    cell_voltage_spread_mv: float
    temperature_spread_degc: float
    pack_voltage_plausibility_v: float


def _high(values: tuple[float, float, float], hysteresis: float) -> TierLimits:
    return TierLimits(*values, hysteresis=hysteresis, above=True)


def _low(values: tuple[float, float, float], hysteresis: float) -> TierLimits:
    return TierLimits(*values, hysteresis=hysteresis, above=False)


VOLTAGE_HYSTERESIS_MV = 20.0
DEEP_DISCHARGE_MARGIN_MV = 200.0  # below the maximum under-voltage limit, from a cell file
TEMPERATURE_HYSTERESIS_DEGC = 2.0
CURRENT_HYSTERESIS_FRACTION = 0.05

# Currents as C-rates of the cell capacity (discharge 6/8/10 C, charge 2/2.5/3 C).
DISCHARGE_C_RATES = (6.0, 8.0, 10.0)
CHARGE_C_RATES = (2.0, 2.5, 3.0)

CHEMISTRY_DEFAULTS: dict[Chemistry, dict[str, object]] = {
    Chemistry.NMC: {
        "cell_overvoltage_mv": (4150.0, 4200.0, 4250.0),
        "cell_undervoltage_mv": (3000.0, 2800.0, 2600.0),
        "deep_discharge_mv": 2000.0,
        "discharge_overtemperature_degc": (50.0, 55.0, 60.0),
        "discharge_undertemperature_degc": (-10.0, -15.0, -20.0),
        "charge_overtemperature_degc": (40.0, 43.0, 45.0),
        "charge_undertemperature_degc": (5.0, 2.0, 0.0),
    },
    Chemistry.LFP: {
        "cell_overvoltage_mv": (3550.0, 3600.0, 3650.0),
        "cell_undervoltage_mv": (2800.0, 2600.0, 2500.0),
        "deep_discharge_mv": 2000.0,
        "discharge_overtemperature_degc": (55.0, 58.0, 60.0),
        "discharge_undertemperature_degc": (-10.0, -15.0, -20.0),
        "charge_overtemperature_degc": (45.0, 50.0, 55.0),
        "charge_undertemperature_degc": (5.0, 2.0, 0.0),
    },
}
COMMON_DEFAULTS = {
    "cell_voltage_spread_mv": 300.0,
    "temperature_spread_degc": 10.0,
    "pack_voltage_plausibility_v": 3.0,
}


def _cell_window_tiers(defaults: dict[str, object], window_v: tuple[float, float]
                       ) -> dict[str, object]:
    """The cell voltage tiers around a cell file's window (its limits as the recommended
    tier, the chemistry's spacing to the operating and maximum ones); the deep-discharge
    limit kept below the maximum under-voltage one."""
    low_mv, high_mv = (v * 1000.0 for v in window_v)
    over = cast("tuple[float, float, float]", defaults["cell_overvoltage_mv"])
    under = cast("tuple[float, float, float]", defaults["cell_undervoltage_mv"])
    tiers_over = (high_mv - (over[1] - over[0]), high_mv, high_mv + (over[2] - over[1]))
    tiers_under = (low_mv + (under[0] - under[1]), low_mv, low_mv - (under[1] - under[2]))
    deep = cast("float", defaults["deep_discharge_mv"])
    return {"cell_overvoltage_mv": tiers_over, "cell_undervoltage_mv": tiers_under,
            "deep_discharge_mv": min(deep, tiers_under[2] - DEEP_DISCHARGE_MARGIN_MV)}


def resolve_limits(settings: Settings) -> Limits:
    """The chemistry's defaults with every override of ``[limits]`` applied and checked."""
    defaults = dict(CHEMISTRY_DEFAULTS[settings.pack.chemistry], **COMMON_DEFAULTS)
    window = pack_cell(settings).voltage_window_v
    if window is not None:  # a cell file: the maker's window is the recommended tier
        defaults.update(_cell_window_tiers(defaults, window))
    capacity = cell_capacity_ah(settings)
    defaults["discharge_overcurrent_a"] = tuple(c * capacity for c in DISCHARGE_C_RATES)
    defaults["charge_overcurrent_a"] = tuple(c * capacity for c in CHARGE_C_RATES)
    overrides: LimitOverrides = settings.limits
    values = {
        f.name: getattr(overrides, f.name) if getattr(overrides, f.name) is not None
        else defaults[f.name]
        for f in dataclasses.fields(overrides)
    }

    def tier(name: str, above: bool, hysteresis: float) -> TierLimits:
        triple = tuple(float(v) for v in values[name])  # type: ignore[union-attr]
        if len(triple) != 3:
            raise ConfigError(f"limits.{name}: needs 3 values (operating, recommended, "
                              f"maximum), got {len(triple)}")
        if list(triple) != sorted(triple, reverse=not above) or len(set(triple)) != 3:
            order = "increase" if above else "decrease"
            raise ConfigError(f"limits.{name}: operating, recommended, maximum must {order} "
                              f"strictly, got {list(triple)}")
        low, middle, high = triple
        return TierLimits(low, middle, high, hysteresis=hysteresis, above=above)

    def current(name: str, above: bool) -> TierLimits:
        base = tier(name, above, 0.0)
        return dataclasses.replace(base, hysteresis=base.maximum * CURRENT_HYSTERESIS_FRACTION)

    limits = Limits(
        cell_overvoltage_mv=tier("cell_overvoltage_mv", True, VOLTAGE_HYSTERESIS_MV),
        cell_undervoltage_mv=tier("cell_undervoltage_mv", False, VOLTAGE_HYSTERESIS_MV),
        deep_discharge_mv=float(values["deep_discharge_mv"]),  # type: ignore[arg-type]
        discharge_overtemperature_degc=tier("discharge_overtemperature_degc", True,
                                            TEMPERATURE_HYSTERESIS_DEGC),
        discharge_undertemperature_degc=tier("discharge_undertemperature_degc", False,
                                             TEMPERATURE_HYSTERESIS_DEGC),
        charge_overtemperature_degc=tier("charge_overtemperature_degc", True,
                                         TEMPERATURE_HYSTERESIS_DEGC),
        charge_undertemperature_degc=tier("charge_undertemperature_degc", False,
                                          TEMPERATURE_HYSTERESIS_DEGC),
        discharge_overcurrent_a=current("discharge_overcurrent_a", True),
        charge_overcurrent_a=current("charge_overcurrent_a", True),
        cell_voltage_spread_mv=float(values["cell_voltage_spread_mv"]),  # type: ignore[arg-type]
        temperature_spread_degc=float(values["temperature_spread_degc"]),  # type: ignore[arg-type]
        pack_voltage_plausibility_v=float(
            values["pack_voltage_plausibility_v"]),  # type: ignore[arg-type]
    )
    if limits.deep_discharge_mv >= limits.cell_undervoltage_mv.maximum:
        raise ConfigError("limits.deep_discharge_mv: must be below the maximum under-voltage "
                          f"limit ({limits.cell_undervoltage_mv.maximum} mV)")
    return limits
