"""Every tiered limit, table-driven: each tier is crossed, debounced up and down, and has
the severity of its tier; the non-tiered checks likewise."""

import dataclasses

import pytest

from bms.settings import load_settings
from dbc.frames import ModuleFault
from dbc.ivt import IvtFlag
from master.diagnosis.checks import TIERS, Checks
from master.diagnosis.engine import DiagnosisEngine
from master.diagnosis.limits import resolve_limits
from master.diagnosis.table import DEFAULT_TABLE, DiagId, Severity
from master.events import PACK, Location

SEVERITY_OF_TIER = (Severity.INFO, Severity.WARNING, Severity.FATAL)


def fresh(chemistry: str = "NMC") -> Checks:
    settings = load_settings(None, [f'pack.chemistry="{chemistry}"'])
    return Checks(DiagnosisEngine(DEFAULT_TABLE), resolve_limits(settings))


def stimulate(checks: Checks, name: str, value: float, now_s: float) -> Location:
    """Feed one observation of quantity ``name`` through the check that owns it."""
    if name == "cell_overvoltage_mv" or name == "cell_undervoltage_mv":
        checks.cell_voltages(0, 4, (round(value), 3700, 3700, 3700), 16, now_s)
        return Location(0, 4)
    if name.startswith(("discharge_over", "discharge_under", "charge_over", "charge_under")) \
            and name.endswith("degc"):
        checks.temperatures(1, 0, (value, 25.0, 25.0, 25.0), 8,
                            charging=name.startswith("charge"), now_s=now_s)
        return Location(1, 0)
    if name == "discharge_overcurrent_a":
        checks.current(-value, IvtFlag.NONE, now_s)
        return PACK
    if name == "charge_overcurrent_a":
        checks.current(value, IvtFlag.NONE, now_s)
        return PACK
    raise AssertionError(name)


@pytest.mark.parametrize("chemistry", ["NMC", "LFP"])
@pytest.mark.parametrize("name", sorted(TIERS))
@pytest.mark.parametrize("tier", [0, 1, 2])
def test_each_tier_is_crossed_and_debounced(chemistry: str, name: str, tier: int) -> None:
    checks = fresh(chemistry)
    limits = getattr(checks.limits, name)
    entry = TIERS[name][tier]
    spec = DEFAULT_TABLE[entry]
    assert spec.severity is SEVERITY_OF_TIER[tier]
    limit = limits.tiers()[tier]
    step = 1.0 if limits.above else -1.0
    beyond, inside = limit + step, limit - step * (limits.hysteresis + 1.0)
    location = None
    t = 0.0
    for _ in range(spec.debounce_set - 1):  # one short of the debounce count
        location = stimulate(checks, name, beyond, t)
        t += 0.1
    assert location is not None
    assert not checks.engine.is_active(entry, location)
    stimulate(checks, name, beyond, t)
    assert checks.engine.is_active(entry, location)
    for _ in range(spec.debounce_clear - 1):  # back inside, one short of clearing
        t += 0.1
        stimulate(checks, name, inside, t)
    assert checks.engine.is_active(entry, location)
    stimulate(checks, name, inside, t + 0.1)
    assert not checks.engine.is_active(entry, location)
    # the tier below this one never fires for a value between the two tiers
    if tier < 2:
        between = (limit + limits.tiers()[tier + 1]) / 2
        higher = TIERS[name][tier + 1]
        for i in range(10):
            stimulate(checks, name, between, t + 1 + i / 10)
        assert not checks.engine.is_active(higher, location)


@pytest.mark.parametrize("position", [0, 3])
@pytest.mark.parametrize(("name", "value_mv"), [("cell_overvoltage_mv", 4250),
                                                 ("cell_undervoltage_mv", 2900),
                                                 ("cell_undervoltage_mv", 1000)])
def test_any_cell_of_a_frame_outside_the_window_is_checked(name: str, value_mv: int,
                                                          position: int) -> None:
    checks = fresh()
    voltages = [3700] * 4
    voltages[position] = value_mv
    for i in range(10):
        checks.cell_voltages(2, 8, tuple(voltages), 16, i / 10)
    assert checks.engine.is_active(TIERS[name][0], Location(2, 8 + position))


def test_replaced_limits_apply_to_the_next_frame() -> None:
    checks = fresh()
    for i in range(10):
        checks.cell_voltages(0, 0, (3700, 3700, 3700, 3700), 16, i / 10)
    assert not checks.engine.groups(Severity.INFO)  # inside the window: nothing
    low = dataclasses.replace(checks.limits.cell_overvoltage_mv, operating=3650.0)
    checks.limits = dataclasses.replace(checks.limits, cell_overvoltage_mv=low)
    for i in range(10):
        checks.cell_voltages(0, 0, (3700, 3700, 3700, 3700), 16, 1 + i / 10)
    assert checks.engine.is_active(TIERS["cell_overvoltage_mv"][0], Location(0, 3))


def test_charge_temperature_limits_apply_only_while_charging() -> None:
    checks = fresh()
    for i in range(5):
        checks.temperatures(0, 0, (48.0,), 8, charging=False, now_s=i)
    assert not checks.engine.is_active(DiagId.CHARGE_OVERTEMPERATURE_MSL, Location(0, 0))
    for i in range(5):
        checks.temperatures(0, 0, (48.0,), 8, charging=True, now_s=10 + i)
    assert checks.engine.is_active(DiagId.CHARGE_OVERTEMPERATURE_MSL, Location(0, 0))


@pytest.mark.parametrize(
    ("entry", "violate", "recover"),
    [
        (DiagId.DEEP_DISCHARGE,
         lambda c, t: c.cell_voltages(0, 0, (1900,), 16, t),
         lambda c, t: c.cell_voltages(0, 0, (3600,), 16, t)),
        (DiagId.MEASUREMENT_INVALID,
         lambda c, t: c.cell_voltages(0, 0, (None,), 16, t),
         lambda c, t: c.cell_voltages(0, 0, (3600,), 16, t)),
        (DiagId.CURRENT_SENSOR_INVALID,
         lambda c, t: c.current(0.0, IvtFlag.CHANNEL_ERROR, t),
         lambda c, t: c.current(0.0, IvtFlag.NONE, t)),
        (DiagId.CURRENT_SENSOR_FLAGGED,
         lambda c, t: c.current(0.0, IvtFlag.OVER_CURRENT, t),
         lambda c, t: c.current(0.0, IvtFlag.NONE, t)),
        (DiagId.SLAVE_AFE_FAULT,
         lambda c, t: c.module_status(3, ModuleFault.OPEN_WIRE, t),
         lambda c, t: c.module_status(3, ModuleFault.BALANCING_COMMAND_STALE, t)),
        (DiagId.CELL_VOLTAGE_SPREAD,
         lambda c, t: c.spreads(3300.0, 3700.0, None, None, t),
         lambda c, t: c.spreads(3600.0, 3700.0, None, None, t)),
        (DiagId.TEMPERATURE_SPREAD,
         lambda c, t: c.spreads(3600.0, 3600.0, 20.0, 31.0, t),
         lambda c, t: c.spreads(3600.0, 3600.0, 20.0, 25.0, t)),
        (DiagId.PACK_VOLTAGE_PLAUSIBILITY,
         lambda c, t: c.pack_voltage(470.0, 466.5, t),
         lambda c, t: c.pack_voltage(470.0, 469.0, t)),
    ],
    ids=lambda v: v.name.lower() if isinstance(v, DiagId) else "",
)
def test_other_checks(entry: DiagId, violate, recover) -> None:  # type: ignore[no-untyped-def]
    checks = fresh()
    spec = DEFAULT_TABLE[entry]
    for i in range(spec.debounce_set - 1):
        violate(checks, i)
    assert not checks.engine.active()
    violate(checks, 10)
    ((active, location, _),) = [a for a in checks.engine.active() if a[0] is entry]
    assert active is entry
    for i in range(spec.debounce_clear):
        recover(checks, 20 + i)
    assert checks.engine.is_active(entry, location) is spec.latching
