"""The master's estimator on days of an electrochemical cell it does not model exactly.

Each stored day (`cells/days.py`: PyBaMM DFN, 1 s samples, the model's own SOC) is fed to
`master.algorithms.PackAlgorithms` as the master feeds it: a one-cell pack configured with
the cell file fitted from that cell's own simulated tests (``pack.cell``), ten 10 ms current
samples per measurement period through the current-zero learner, integer millivolts every
measurement period, a temperature every 0.5 s. Sensor errors: 2 mV of voltage noise, a
50 mA current offset and a 0.5 % gain error (``SensorErrors``). After ``PARKED_S`` without
current the pack counts as parked, its contactors open (the master then learns the current
sensor's zero, as it does in a pack). The figures are measured
against the DFN model's SOC and capacity: a plant we did not write.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bms.chemistry import cell_capacity_ah
from bms.settings import Settings, load_settings
from cells.days import Day
from cells.shipped import DATA
from master.algorithms import PackAlgorithms, over_horizon
from master.diagnosis.limits import resolve_limits
from master.estimation.current_zero import CurrentZero
from master.estimation.pack_estimator import resistance_factor
from master.estimation.power_limits import LimitInputs, PowerLimiter
from master.pack_state import PackState

SETTLE_S = 600.0  # the figures count from the first 10 minutes on
PARKED_S = 300.0  # after this long without current the pack is parked: contactors open
CURRENT_SAMPLES = 10  # per measurement period, as the IVT's 10 ms frames
TEMPERATURE_PERIOD_S = 0.5


@dataclass(frozen=True)
class SensorErrors:
    voltage_noise_mv: float = 2.0
    current_offset_a: float = 0.05
    current_gain: float = 0.005


CLEAN = SensorErrors(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class DayFigures:
    day: str
    meta: dict[str, Any]
    hours: float
    soc_max_error_pct: float  # after SETTLE_S
    soc_rms_error_pct: float
    cc_max_error_pct: float  # coulomb counting with the same sensors, from the same start
    cc_rms_error_pct: float
    within_3_sigma: float  # fraction of the samples whose truth is inside the 3-sigma band
    capacity_ah: float  # learnt
    capacity_true_ah: float  # the DFN cell's, from its SOC against the charge moved
    r0_ohm: float  # learnt by the health tracker, at the day's temperature
    r0_filter_ohm: float  # with the filter's own correction
    pulse_resistance_ohm: float | None  # the DFN cell's, 1 s into a pulse (from its tests)
    # at this temperature, with the estimator's state at the end of the day:
    # (SOC, charge?, the resistance limiter's current, the limit after every limiter, the
    # DFN cell's 10 s limit current, the operating maximum), where either current is
    # within that maximum (above it the maximum limiter binds)
    power: list[tuple[float, bool, float, float, float, float]]
    series: dict[str, Any]  # time_h, error_pct, sigma3_pct, cc_error_pct: for the plot


def cell_file(day: Day) -> Path:
    return DATA / str(day.meta["cell_file"])


def settings_for(day: Day, overrides: tuple[str, ...] = ()) -> Settings:
    return load_settings(None, [
        "pack.modules=1", "pack.cells_per_module=1", "pack.temperature_sensors_per_module=1",
        f"pack.chemistry={str(day.meta['chemistry']).upper()}", f"pack.cell={cell_file(day)}",
        *overrides])


def true_capacity_ah(day: Day) -> float:
    """The cell's capacity as the DFN model's SOC says: charge moved over SOC moved, fitted
    over the whole day (least squares through the origin)."""
    charge = np.concatenate(([0.0], np.cumsum(
        (day.current_a[1:] + day.current_a[:-1]) / 2 * np.diff(day.time_s)))) / 3600.0
    dsoc = day.soc_true - day.soc_true[0]
    return float(np.dot(charge, charge) / np.dot(charge, dsoc))


def replay(day: Day, errors: SensorErrors = SensorErrors(), seed: int = 1,
           until_s: float | None = None, overrides: tuple[str, ...] = ()) -> DayFigures:
    """Feed ``day`` (up to ``until_s``) through the master's algorithms, configured with
    ``overrides`` (``estimation.KEY=VALUE``) on top of the defaults."""
    from cells.model import load_cell

    settings = settings_for(day, overrides)
    period = settings.slave.measurement_period_s
    m = settings.master
    limits = resolve_limits(settings)
    algorithms = PackAlgorithms(settings, limits, 0.0)
    pack = PackState(1, 1, 1)
    zero = CurrentZero(settings.estimation.current_zero_time_constant_s,
                       settings.estimation.current_zero_max_a)
    rng = random.Random(seed)
    end_s = float(day.time_s[-1]) if until_s is None else min(until_s, float(day.time_s[-1]))
    steps = int(end_s / period)
    times = np.arange(steps) * period
    # PyBaMM interpolates a drive cycle linearly between its 1 s points: the current and
    # the voltage both move between the samples
    voltages = np.interp(times, day.time_s, day.voltage_v)
    truth = np.interp(times, day.time_s, day.soc_true)
    temperature = np.interp(times, day.time_s, day.temperature_degc)
    filter_ = algorithms.estimator.filter
    series_t: list[float] = []
    est: list[float] = []
    sig: list[float] = []
    true: list[float] = []
    cc: list[float] = []
    cc_soc: float | None = None
    capacity = algorithms.estimator.health.capacity_ah[0]
    next_temperature_s = 0.0
    moving_s = 0.0
    for k in range(steps):
        now = float(times[k])
        sample_s = now - period + (np.arange(CURRENT_SAMPLES) + 1) * period / CURRENT_SAMPLES
        true_a = np.interp(sample_s, day.time_s, day.current_a)
        if np.any(true_a != 0.0):
            moving_s = now
        parked = now - moving_s >= PARKED_S
        for t, current in zip(sample_s.tolist(), true_a.tolist(), strict=True):
            measured = current * (1.0 + errors.current_gain) + errors.current_offset_a
            zero.sample(measured, parked, t)
            algorithms.integral.sample(zero.corrected(measured), t)
        noise = rng.gauss(0.0, errors.voltage_noise_mv) if errors.voltage_noise_mv else 0.0
        pack.cell_mv.update(0, 0, (round(voltages[k] * 1000.0 + noise),), now)
        algorithms.on_cell_voltages()
        if now >= next_temperature_s:
            pack.temperature_degc.update(0, 0, (round(float(temperature[k]), 1),), now)
            next_temperature_s += TEMPERATURE_PERIOD_S
        algorithms.update(now, pack, m.slave_stale_timeout_s, m.temperature_stale_timeout_s,
                          zero.corrected(measured), allowed=True)
        if not filter_.initialised:
            continue
        if cc_soc is None:
            cc_soc = float(filter_.soc[0])  # counting starts where the estimator starts
        else:
            cc_soc += zero.corrected(measured) * period / 3600.0 / capacity
        if k % round(1.0 / period) == 0:
            series_t.append(now)
            est.append(float(filter_.soc[0]))
            sig.append(float(filter_.soc_sigma()[0]))
            true.append(float(truth[k]))
            cc.append(cc_soc)
    t_arr, e, s, tr, c = (np.array(x) for x in (series_t, est, sig, true, cc))
    settled = t_arr >= SETTLE_S
    error, cc_error = e - tr, c - tr
    model = load_cell(cell_file(day))
    temperature_c = float(day.meta["temperature_degc"])
    power = power_limit_points(day, algorithms, settings)
    pulse = model.pulse_resistance_1s_ohm.get(temperature_c)
    factor = float(resistance_factor(np.array([float(np.median(day.temperature_degc))]),
                                     algorithms.estimator.r0_temperature)[0])
    return DayFigures(
        day=day.name, meta=day.meta, hours=end_s / 3600.0,
        soc_max_error_pct=100 * float(np.max(np.abs(error[settled]))),
        soc_rms_error_pct=100 * float(np.sqrt(np.mean(error[settled] ** 2))),
        cc_max_error_pct=100 * float(np.max(np.abs(cc_error[settled]))),
        cc_rms_error_pct=100 * float(np.sqrt(np.mean(cc_error[settled] ** 2))),
        within_3_sigma=float(np.mean(np.abs(error[settled]) <= 3 * s[settled])),
        capacity_ah=float(algorithms.estimator.health.capacity_ah[0]),
        capacity_true_ah=true_capacity_ah(day),
        r0_ohm=float(algorithms.estimator.health.r0_ohm[0]) * factor,
        r0_filter_ohm=float(filter_.resistance_ohm()[0]) * factor,
        pulse_resistance_ohm=pulse,
        power=power,
        series={"time_h": t_arr / 3600.0, "error_pct": 100 * error, "sigma3_pct": 300 * s,
                "cc_error_pct": 100 * cc_error})


def power_limit_points(day: Day, algorithms: PackAlgorithms, settings: Settings
                       ) -> list[tuple[float, bool, float, float, float, float]]:
    """The master's resistance limit beside the DFN cell's 10 s limit current, at each SOC
    of the cell's stored points (`cells.limit_currents`) at the day's temperature: the
    limiter as the master runs it, on the estimator's learnt state, the cell at rest. It
    overwrites the filter's SOC and RC voltage with each point's: call it when the day is
    done."""
    from cells.days import DAYS
    from cells.limit_currents import read_points

    path = DAYS / f"{day.meta['cell']}-limit-currents.csv"
    if not path.exists():
        return []
    limits = resolve_limits(settings)
    high_v, low_v = (limits.cell_overvoltage_mv.operating / 1000,
                     limits.cell_undervoltage_mv.operating / 1000)
    horizon_s = settings.power_limits.resistance_horizon_s
    temperature = float(day.meta["temperature_degc"])
    points = [p for p in read_points(path) if p.temperature_degc == temperature]
    if any(abs(p.limit_max_v - high_v) > 1e-6 or abs(p.limit_min_v - low_v) > 1e-6
           for p in points):
        raise ValueError(f"{path}: computed for other limits than {high_v:g}/{low_v:g} V: "
                         "python -m cells.make_data --limits-only")
    f = algorithms.estimator.filter
    factor = resistance_factor(np.array([temperature]), algorithms.estimator.r0_temperature)
    capacity = cell_capacity_ah(settings)
    out = []
    for p in points:
        f.soc[:], f.v_rc_v[:] = p.soc, 0.0
        f.ocv_shift_v = f.curve.shift_v(f.soc, np.array([temperature]))
        voltage_v, resistance_ohm = over_horizon(f, factor, horizon_s,
                                                 algorithms.estimator.over_soc)
        mv = float(voltage_v[0]) * 1000
        limiter = PowerLimiter(settings.power_limits, limits, capacity, 0.0)
        inputs = LimitInputs(temperature, temperature, p.soc, p.soc, mv, mv, voltage_v,
                             resistance_ohm, mv / 1000, True,
                             algorithms.pulse_current(np.array([temperature])))
        limiter.update(0.0, inputs)
        final = limiter.update(1e6, inputs)  # long after: no ramp
        for charge, dfn_a, maximum, final_a in (
                (True, p.charge_a, limiter.max_charge_a, final.charge_a),
                (False, p.discharge_a, limiter.max_discharge_a, final.discharge_a)):
            ours = limiter.resistance_a[0 if charge else 1]
            if min(ours, dfn_a) <= maximum:
                out.append((p.soc, charge, ours, final_a, dfn_a, maximum))
    return out


def power_ratios(f: DayFigures) -> tuple[float, float, float]:
    """Over the day's points: the resistance limit against the DFN's 10 s current, least and
    most, both taken no higher than the operating maximum (a limit above it is the
    maximum); and the final limit's most."""
    if not f.power:
        return math.nan, math.nan, math.nan
    resistance = [min(ours, top) / min(dfn, top) for _, _, ours, _, dfn, top in f.power]
    final = [final / min(dfn, top) for *_, final, dfn, top in f.power]
    return min(resistance), max(resistance), max(final)


def plot_day(figures: DayFigures, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = figures.series
    figure, ax = plt.subplots(figsize=(10, 3.6))
    ax.fill_between(s["time_h"], -s["sigma3_pct"], s["sigma3_pct"], color="tab:blue",
                    alpha=0.15, label="estimator's 3-sigma band")
    ax.plot(s["time_h"], s["error_pct"], lw=0.8, color="tab:blue", label="EKF - DFN truth")
    ax.plot(s["time_h"], s["cc_error_pct"], lw=0.8, color="tab:gray",
            label="coulomb counting - DFN truth")
    ax.axhline(2, color="tab:red", lw=0.5, ls="--")
    ax.axhline(-2, color="tab:red", lw=0.5, ls="--")
    meta = figures.meta
    ax.set(xlabel="time [h]", ylabel="SOC error [points]",
           title=f"{figures.day}: PyBaMM {meta['model']} {meta['parameters']} at "
                 f"{meta['temperature_degc']:g} degC ({meta['profile']}); max "
                 f"{figures.soc_max_error_pct:.1f}, RMS {figures.soc_rms_error_pct:.1f} points")
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)



# --- the bench: every stored day, the estimator beside coulomb counting -------------------

# the estimator as it was before it was measured on these days: the voltages corrected the
# SOC at every load, the resistance correction at every current, the sigma the covariance's
# alone, the resistance limit on R0 alone
PREVIOUS: tuple[str, ...] = (
    "estimation.voltage_sigma_load_fraction=0", "estimation.voltage_sigma_load_memory_s=0",
    "estimation.voltage_correction_max_c=0", "estimation.resistance_min_c=0",
    "estimation.ocv_soc_sigma_pct=0", "power_limits.resistance_horizon_s=0")
TARGET_MAX_PCT = 2.0
TARGET_RMS_PCT = 1.0
TARGET_OVER_CC_PCT = 1.0
TARGET_WITHIN_3_SIGMA = 0.99
TARGET_CAPACITY = 0.03
TARGET_R0 = 0.15
TARGET_POWER = (0.8, 1.0)  # the resistance limit against the DFN's 10 s limit current


def targets(f: DayFigures) -> dict[str, bool]:
    r0 = f.pulse_resistance_ohm
    return {
        "max": f.soc_max_error_pct <= TARGET_MAX_PCT,
        "rms": f.soc_rms_error_pct <= TARGET_RMS_PCT,
        "vs_cc": f.soc_max_error_pct <= f.cc_max_error_pct + TARGET_OVER_CC_PCT,
        "3_sigma": f.within_3_sigma >= TARGET_WITHIN_3_SIGMA,
        "capacity": abs(f.capacity_ah / f.capacity_true_ah - 1) <= TARGET_CAPACITY,
        "r0": r0 is not None and abs(f.r0_ohm / r0 - 1) <= TARGET_R0,
        # no point within the operating maximum: the resistance limit never binds
        "power": not f.power or (TARGET_POWER[0] <= power_ratios(f)[0]
                                 and power_ratios(f)[1] <= TARGET_POWER[1]),
    }


def _replay_job(job: tuple[str, tuple[str, ...]]) -> DayFigures:
    from cells.days import load_day

    path, overrides = job
    return replay(load_day(Path(path)), overrides=overrides)


def row(label: str, f: DayFigures) -> str:
    r0 = f"{1000 * f.r0_ohm:5.1f}/{1000 * f.pulse_resistance_ohm:4.1f}" \
        if f.pulse_resistance_ohm else f"{1000 * f.r0_ohm:5.1f}/ -- "
    met = targets(f)
    low, high, final = power_ratios(f)
    return (f"   {f.day:26s} {label:9s} {f.soc_max_error_pct:5.2f} {f.soc_rms_error_pct:5.2f}"
            f"  {f.cc_max_error_pct:5.2f} {f.cc_rms_error_pct:5.2f}  {100 * f.within_3_sigma:5.1f}"
            f"  {f.capacity_ah:6.3f}/{f.capacity_true_ah:6.3f}  {r0}  {low:4.2f}-{high:4.2f} "
            f"{final:4.2f}  " + " ".join(k for k, ok in met.items() if not ok))


def run_days(out: Path, workers: int = 2) -> dict[str, Any]:
    """Every stored day with the estimator's defaults and with the previous estimator."""
    from concurrent.futures import ProcessPoolExecutor

    from cells.days import stored_days

    days = stored_days()
    if not days:
        print("   no stored days (cells/make_data.py makes them)")
        return {"days": 0, "targets_met": False}
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), overrides) for p in days for overrides in ((), PREVIOUS)]
    print(f"   {len(days)} days of PyBaMM DFN cells (cells/data/days), each twice: "
          f"{workers} processes ...", flush=True)
    print("   day                        estimator  max   RMS   CC max RMS  in 3s%  capacity "
          "learnt/true Ah  R0/1s pulse mOhm  limit/DFN 10 s: resistance, final  targets "
          "missed")
    results: dict[str, Any] = {}
    met_all = True
    with ProcessPoolExecutor(workers) as pool:
        for (_, overrides), f in zip(jobs, pool.map(_replay_job, jobs), strict=True):
            tuned = overrides == ()
            print(row("default" if tuned else "previous", f), flush=True)
            if tuned:
                plot_day(f, out / f"{f.day}.png")
                met = targets(f)
                met_all &= all(met.values())
            results[f"{f.day}:{'default' if tuned else 'previous'}"] = {
                "plant": f"PyBaMM {f.meta['model']} {f.meta['parameters']} "
                         f"{f.meta['temperature_degc']:g} degC {f.meta['profile']}",
                "hours": f.hours, "soc_max_pct": f.soc_max_error_pct,
                "soc_rms_pct": f.soc_rms_error_pct, "cc_max_pct": f.cc_max_error_pct,
                "cc_rms_pct": f.cc_rms_error_pct, "within_3_sigma": f.within_3_sigma,
                "capacity_ah": f.capacity_ah, "capacity_true_ah": f.capacity_true_ah,
                "r0_ohm": f.r0_ohm, "pulse_resistance_ohm": f.pulse_resistance_ohm,
                "power_limit_points": f.power, "targets": targets(f)}
    met_days = sum(all(r["targets"].values()) for k, r in results.items()
                   if k.endswith(":default"))
    print(f"   every target met on {met_days} of {len(days)} days; limit/DFN 10 s: the "
          "resistance limiter's current over the DFN cell's, least-most over SOC (target "
          f"{TARGET_POWER[0]:g}-{TARGET_POWER[1]:g}), and the final limit's most (every "
          "limiter)", flush=True)
    return {"days": len(days), "results": results, "targets_met": met_all}
