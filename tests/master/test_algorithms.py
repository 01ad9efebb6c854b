"""PackAlgorithms: the estimator and the limits as the master runs them, once per period."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bms.chemistry import REFERENCE_CELLS
from bms.settings import Chemistry, load_settings
from master.algorithms import PackAlgorithms
from master.diagnosis.limits import resolve_limits
from master.pack_state import PackState
from sim.cell import CellModel, CellParameters

NMC = REFERENCE_CELLS[Chemistry.NMC]
PERIOD_S = 0.1


def one_rc_cell(soc: float) -> CellModel:
    """The estimator's own model of the reference cell (one RC pair, no hysteresis)."""
    return CellModel(CellParameters(NMC.capacity_ah, NMC.r0_ohm, NMC.r1_ohm, NMC.c1_f, 70.0,
                                    0.1, 1.0, 0.0, NMC.ocv), soc, 25.0)


def rested_limits(soc: float, horizon_s: float) -> tuple[float, float]:
    """The resistance limiter's (charge, discharge) of a one-cell pack rested at ``soc``."""
    settings = load_settings(None, [
        "pack.modules=1", "pack.cells_per_module=1", "pack.temperature_sensors_per_module=1",
        f"power_limits.resistance_horizon_s={horizon_s}"])
    algorithms = PackAlgorithms(settings, resolve_limits(settings), 0.0)
    pack, cell = PackState(1, 1, 1), one_rc_cell(soc)
    for k in range(20):
        now = k * PERIOD_S
        algorithms.integral.sample(0.0, now)
        pack.cell_mv.update(0, 0, (round(cell.terminal_voltage_v(0.0) * 1000),), now)
        algorithms.on_cell_voltages()
        pack.temperature_degc.update(0, 0, (25.0,), now)
        algorithms.update(now, pack, 1.0, 5.0, 0.0, allowed=True)
    return algorithms.power.resistance_a


@pytest.mark.parametrize(("soc", "charge"), [(0.95, True), (0.06, False)])
def test_the_resistance_limit_reaches_the_voltage_limit_after_its_horizon(
        soc: float, charge: bool) -> None:
    """On the estimator's own model, the resistance limit held for 10 s brings the cell to
    its operating limit then, not before; R0 alone (horizon 0) would overshoot it."""
    limits = resolve_limits(load_settings(None, []))
    limit_v = (limits.cell_overvoltage_mv if charge else limits.cell_undervoltage_mv) \
        .operating / 1000
    sign = 1.0 if charge else -1.0

    def after_10_s(current_a: float) -> float:
        cell = one_rc_cell(soc)
        for _ in range(100):
            cell.step(PERIOD_S, sign * current_a, 25.0)
        return cell.terminal_voltage_v(sign * current_a)

    horizon = rested_limits(soc, 10.0)[0 if charge else 1]
    at_once = rested_limits(soc, 0.0)[0 if charge else 1]
    assert 0 < horizon < at_once
    horizon_miss_v = abs(after_10_s(horizon) - limit_v)
    overshoot_v = sign * (after_10_s(at_once) - limit_v)
    assert horizon_miss_v < 0.002  # the 1 mV readings, the cell warming a little
    assert overshoot_v > 2 * horizon_miss_v + 0.002


def test_resistance_horizon_is_a_setting_with_bounds() -> None:
    from bms.algorithm_settings import PowerLimitSettings
    from bms.errors import ConfigError

    assert PowerLimitSettings().resistance_horizon_s == 10.0
    with pytest.raises(ConfigError):
        load_settings(None, ["power_limits.resistance_horizon_s=-1"])
    assert dataclasses.replace(PowerLimitSettings(), resistance_horizon_s=0.0)
    assert np.isfinite(rested_limits(0.5, 600.0)).all()


def test_a_cell_files_power_test_sets_the_resistance_limit_over_its_length() -> None:
    """The LG M50's power test (10 s pulses) answers the 10 s resistance limit: at a pulse's
    SOC, the headroom that pulse used up gives back its current; over another horizon its
    pulses say nothing and the circuit answers."""
    from cells.model import load_cell
    from cells.shipped import DATA

    def algorithms(horizon_s: float) -> PackAlgorithms:
        settings = load_settings(None, [
            "pack.cell=lg-m50", "pack.modules=1", "pack.cells_per_module=1",
            "pack.temperature_sensors_per_module=1",
            f"power_limits.resistance_horizon_s={horizon_s}"])
        return PackAlgorithms(settings, resolve_limits(settings), 0.0)

    pulses = [q for q in load_cell(DATA / "lg-m50.toml").pulses if q.temperature_degc == 25.0]
    for q in (min(pulses, key=lambda q: abs(q.soc - 0.5) + abs(q.current_a + 5.0)),
              min(pulses, key=lambda q: abs(q.soc - 0.3) + abs(q.current_a - 5.0))):
        ten = algorithms(10.0)
        ten.estimator.filter.soc[:] = q.soc
        current = ten.pulse_current(np.array([25.0]))
        assert current is not None
        used_v = np.array([q.resistance_ohm * abs(q.current_a)])
        assert current(used_v, q.current_a > 0)[0] == pytest.approx(abs(q.current_a),
                                                                     rel=1e-3)
        # looked up again once the SOC has moved (not before: the same answer)
        ten.estimator.filter.soc[:] = q.soc + 0.0001
        again = ten.pulse_current(np.array([25.0]))
        assert again is not None
        assert again(used_v, q.current_a > 0)[0] == \
            current(used_v, q.current_a > 0)[0]
        ten.estimator.filter.soc[:] = q.soc - 0.1
        moved = ten.pulse_current(np.array([25.0]))
        assert moved is not None
        assert moved(used_v, q.current_a > 0)[0] != \
            pytest.approx(abs(q.current_a), rel=1e-2)
    assert algorithms(5.0).pulse_current(np.array([25.0])) is None
