"""Reference cells of each chemistry (docs/PROTOCOLS.md section 7): OCV table and model parameters.

OCV at 25 degC computed with PyBaMM parameter sets (NMC811: LG M50 21700 5 Ah; LFP: A123
26650 2.3 Ah). Equivalent circuit values at 25 degC and 50 % SOC.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from bms.errors import ConfigError
from bms.settings import Chemistry, Settings

if TYPE_CHECKING:
    from cells.model import CellModel

_SOC_POINTS = (0.0, 0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 1.0)


@dataclass(frozen=True)
class OcvTable:
    """Open-circuit voltage over SOC (0..1), linear between points and beyond the ends."""

    soc: tuple[float, ...]
    voltage_v: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.soc) != len(self.voltage_v) or len(self.soc) < 2:
            raise ValueError("OCV table needs matching soc and voltage points")
        if list(self.soc) != sorted(set(self.soc)):
            raise ValueError("OCV table soc points must increase")

    def voltage(self, soc: float) -> float:
        return self.voltage_in(self.segment(soc), soc)

    def segment(self, soc: float, guess: int = -1) -> int:
        """The segment ``soc`` lies in (the first below the table, the last above it); a
        ``guess`` that holds is taken without a search (a cell's SOC seldom leaves its
        segment from one step to the next)."""
        points = self.soc
        last = len(points) - 2
        if 0 <= guess <= last and (guess == 0 or points[guess] <= soc) and \
                (guess == last or soc < points[guess + 1]):
            return guess
        return min(max(bisect.bisect_right(points, soc) - 1, 0), last)

    def voltage_in(self, segment: int, soc: float) -> float:
        """OCV at ``soc`` from the line through ``segment``."""
        s0, s1 = self.soc[segment], self.soc[segment + 1]
        v0, v1 = self.voltage_v[segment], self.voltage_v[segment + 1]
        return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)

    def soc_at(self, voltage_v: float) -> float:
        """Inverse lookup (the table is monotonic), clamped to 0..1."""
        if voltage_v <= self.voltage_v[0]:
            return 0.0
        if voltage_v >= self.voltage_v[-1]:
            return 1.0
        i = bisect.bisect_right(self.voltage_v, voltage_v) - 1
        v0, v1 = self.voltage_v[i], self.voltage_v[i + 1]
        s0, s1 = self.soc[i], self.soc[i + 1]
        return s0 + (s1 - s0) * (voltage_v - v0) / (v1 - v0)


GAS_CONSTANT_J_PER_MOL_K: Final = 8.314
ACTIVATION_ENERGY_J_PER_MOL: Final = 20_000.0
REFERENCE_TEMPERATURE_K: Final = 298.15
KELVIN_OFFSET: Final = 273.15


def arrhenius_factor(temperature_degc: float) -> float:
    """Resistance multiplier relative to 25 degC (activation energy about 20 kJ/mol)."""
    kelvin = temperature_degc + KELVIN_OFFSET
    return math.exp(
        ACTIVATION_ENERGY_J_PER_MOL / GAS_CONSTANT_J_PER_MOL_K
        * (1.0 / kelvin - 1.0 / REFERENCE_TEMPERATURE_K)
    )


@dataclass(frozen=True)
class ResistanceTemperature:
    """A cell's resistance multiplier against 25 degC over temperature. From measured points
    (a cell file's R0 at 50 % SOC at each tested temperature): ln(factor) linear in 1/T
    between them (Arrhenius with each segment's own activation energy), beyond them the end
    segment's law carried on. Without points: Arrhenius at 20 kJ/mol."""

    inverse_k: tuple[float, ...] = ()  # 1/T of the points, increasing (T falling)
    log_factor: tuple[float, ...] = ()

    @staticmethod
    def from_points(points: tuple[tuple[float, float], ...]) -> ResistanceTemperature:
        """``points``: (degC, factor against 25 degC); fewer than two: Arrhenius."""
        if len(points) < 2:
            return ResistanceTemperature()
        ordered = sorted(points, key=lambda p: -p[0])
        if any(f <= 0 or not math.isfinite(f) for _, f in ordered) or \
                len({t for t, _ in ordered}) != len(ordered):
            raise ValueError(f"resistance temperature points {points}: positive factors at "
                             "distinct temperatures")
        return ResistanceTemperature(
            tuple(1.0 / (t + KELVIN_OFFSET) for t, _ in ordered),
            tuple(math.log(f) for _, f in ordered))

    def factor(self, temperature_degc: float) -> float:
        xs = self.inverse_k
        if not xs:
            return arrhenius_factor(temperature_degc)
        ys = self.log_factor
        x = 1.0 / (temperature_degc + KELVIN_OFFSET)
        j = min(max(bisect.bisect_right(xs, x) - 1, 0), len(xs) - 2)
        slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
        return math.exp(ys[j] + slope * (x - xs[j]))


ARRHENIUS: Final = ResistanceTemperature()


@dataclass(frozen=True)
class CircuitOverSoc:
    """R0, R1 and the first pair's time constant over SOC, as factors of their values at
    50 % (a cell file's 25 degC table); empty: the same at every SOC."""

    soc: tuple[float, ...] = ()
    r0_factor: tuple[float, ...] = ()
    r1_factor: tuple[float, ...] = ()
    tau1_factor: tuple[float, ...] = ()


FLAT: Final = CircuitOverSoc()


@dataclass(frozen=True)
class OcvShift:
    """The OCV at other temperatures than 25 degC, as its shift from the 25 degC table over
    a common SOC grid, per tested temperature (25 among them, a row of zeros): linear in
    temperature between them, beyond them the end segment's slope carried on. Empty: the
    OCV is the same at every temperature."""

    temperatures_degc: tuple[float, ...] = ()
    soc: tuple[float, ...] = ()
    shift_v: tuple[tuple[float, ...], ...] = ()  # per temperature, per SOC point

    def at(self, soc: float, temperature_degc: float) -> float:
        """The shift at one SOC and temperature (0 without a table)."""
        t = self.temperatures_degc
        if not t:
            return 0.0
        grid = self.soc
        i = min(max(bisect.bisect_right(grid, soc) - 1, 0), len(grid) - 2)
        w_soc = min(max((soc - grid[i]) / (grid[i + 1] - grid[i]), 0.0), 1.0)
        j = min(max(bisect.bisect_right(t, temperature_degc) - 1, 0), len(t) - 2)

        def row(k: int) -> float:
            values = self.shift_v[k]
            return values[i] + (values[i + 1] - values[i]) * w_soc
        low, high = row(j), row(j + 1)
        return low + (high - low) * (temperature_degc - t[j]) / (t[j + 1] - t[j])


NO_SHIFT: Final = OcvShift()
SHIFT_GRID_POINTS: Final = 101


@dataclass(frozen=True)
class PulseCurve:
    """A power test's pulses of one amplitude, direction and temperature: the resistance
    they showed over SOC (the voltage moved in the pulse's length per A), per unit of
    capacity so that the cell scales (`ReferenceCell.scaled`)."""

    c_rate: float  # |current| / capacity, 1/h
    soc: tuple[float, ...]  # increasing
    resistance_ohm_ah: tuple[float, ...]  # resistance x capacity


@dataclass(frozen=True)
class PulseCeiling:
    """The largest amplitude a power test completed at each of its SOC steps, one
    temperature and direction: beyond it the test says nothing, or that the cell could not
    (a pulse a cut-off ended)."""

    soc: tuple[float, ...]  # increasing
    c_rate: tuple[float, ...]


@dataclass(frozen=True)
class PulseMap:
    """A cell file's power test (`cells.model.PulsePoint`): per tested temperature, the
    curves of each amplitude, rising, and the ceiling, per direction. Empty: no power
    test."""

    seconds: float = 0.0
    temperatures_degc: tuple[float, ...] = ()
    charge: tuple[tuple[PulseCurve, ...], ...] = ()  # per temperature, amplitudes rising
    discharge: tuple[tuple[PulseCurve, ...], ...] = ()
    charge_ceiling: tuple[PulseCeiling, ...] = ()  # per temperature
    discharge_ceiling: tuple[PulseCeiling, ...] = ()


NO_PULSES: Final = PulseMap()
PULSE_STEP_GAP: Final = 0.04  # pulses this far apart in SOC belong to different steps


@dataclass(frozen=True)
class ReferenceCell:
    chemistry: Chemistry
    capacity_ah: float
    r0_ohm: float
    r1_ohm: float
    c1_f: float
    thermal_capacity_j_per_k: float
    thermal_conductance_w_per_k: float  # to the module fixture / ambient
    ocv: OcvTable
    balancing_floor_mv: float  # no bleeding below: the cell is nearly empty there
    voltage_window_v: tuple[float, float] | None = None  # the maker's, from a cell file
    # what only the virtual pack's plant runs, beyond the estimator's one-RC model: a second,
    # slow RC pair (diffusion; 0: none) and half the gap between the OCV's charge and
    # discharge branches (hysteresis)
    r2_ohm: float = 0.0
    c2_f: float = 0.0
    hysteresis_v: float = 0.0
    r0_temperature: ResistanceTemperature = ARRHENIUS  # R0, R1 and R2 over temperature
    over_soc: CircuitOverSoc = FLAT  # what the power limits read of the circuit over SOC
    ocv_shift: OcvShift = NO_SHIFT  # the OCV at other temperatures (the estimator's)
    pulses: PulseMap = NO_PULSES  # what the resistance power limit reads, where measured

    def scaled(self, capacity_ah: float) -> ReferenceCell:
        """The same cell made bigger (or smaller), as from parallel cells: resistances fall
        and capacitances and heat capacity rise with the capacity; time constants stay."""
        ratio = capacity_ah / self.capacity_ah
        return replace(self, capacity_ah=capacity_ah, r0_ohm=self.r0_ohm / ratio,
                       r1_ohm=self.r1_ohm / ratio, c1_f=self.c1_f * ratio,
                       r2_ohm=self.r2_ohm / ratio, c2_f=self.c2_f * ratio,
                       thermal_capacity_j_per_k=self.thermal_capacity_j_per_k * ratio,
                       thermal_conductance_w_per_k=self.thermal_conductance_w_per_k * ratio)


NMC_OCV = OcvTable(_SOC_POINTS, (2.5000, 3.1094, 3.2959, 3.4852, 3.5814, 3.6670, 3.7509,
                                 3.8406, 3.9479, 4.0421, 4.0967, 4.1236, 4.2000))
LFP_OCV = OcvTable(_SOC_POINTS, (2.0000, 2.7853, 2.9781, 3.1685, 3.2058, 3.2525, 3.2660,
                                 3.2688, 3.2740, 3.3097, 3.3142, 3.3164, 3.6000))

# The slow pair: the second RC pair that `bms cell fit` found at 50 % and 25 degC on the
# PyBaMM DFN cells of the same chemistry (cells/data: lg-m50 0.60 x R0 with 290 s, a123-26650
# 0.089 x R0 with 274 s), at these cells' R0. The LFP hysteresis, a 20 mV gap between the
# branches, is an assumed value (the DFN cells have none; docs/cells.md).
REFERENCE_CELLS: dict[Chemistry, ReferenceCell] = {
    Chemistry.NMC: ReferenceCell(Chemistry.NMC, 5.0, 0.023, 0.0125, 1900.0, 70.0, 0.1, NMC_OCV,
                                 3400.0, r2_ohm=0.0139, c2_f=290.0 / 0.0139),
    Chemistry.LFP: ReferenceCell(Chemistry.LFP, 2.3, 0.020, 0.002, 7200.0, 85.0, 0.1, LFP_OCV,
                                 3200.0, r2_ohm=0.00178, c2_f=274.0 / 0.00178,
                                 hysteresis_v=0.010),
}


def cell_capacity_ah(settings: Settings) -> float:
    """The configured capacity of a series cell, else the cell model's."""
    return settings.pack.cell_capacity_ah or pack_cell(settings).capacity_ah


def pack_cell(settings: Settings) -> ReferenceCell:
    """The pack's cell: from its cell file (``pack.cell``), else the chemistry's reference."""
    if not settings.pack.cell:
        return REFERENCE_CELLS[settings.pack.chemistry]
    return cell_from_file(settings.pack.cell, settings.pack.chemistry)


def series_cell(settings: Settings) -> ReferenceCell:
    """The pack's cell at the configured capacity of a series cell."""
    return pack_cell(settings).scaled(cell_capacity_ah(settings))


@functools.cache
def cell_from_file(name_or_path: str, chemistry: Chemistry) -> ReferenceCell:
    """A cell file (or a shipped cell by name) as the estimator's and the plant's cell: its
    capacity, its mean OCV at 25 degC, and R0 and the first RC pair at 50 % SOC and 25 degC
    (the estimator's one-RC model), and R0 at 50 % over the tested temperatures (the law of
    every resistance over temperature); for the plant also the second pair and the
    hysteresis (half the gap of the charge and discharge branches at 50 %), where the file
    has them (docs/cells.md)."""
    from cells.model import CellFileError, load_cell
    from cells.shipped import cell_path

    try:
        model = load_cell(cell_path(name_or_path))
    except CellFileError as exc:
        raise ConfigError(f"pack.cell: {exc}") from None
    if model.chemistry.upper() != chemistry.value:
        raise ConfigError(f"pack.cell: {model.name} is a {model.chemistry.upper()} cell, but "
                          f"pack.chemistry is {chemistry.value}: set pack.chemistry = "
                          f"\"{model.chemistry.upper()}\"")
    curve = model.ocv_curve()
    point = model.circuit_at(0.5)
    r1_ohm, tau1_s = point.rc[0]
    r2_ohm, tau2_s = point.rc[1] if len(point.rc) > 1 else (0.0, 0.0)
    branches = {c.branch for c in model.ocv}
    hysteresis_v = (model.ocv_curve(branch="charge").voltage(0.5)
                    - model.ocv_curve(branch="discharge").voltage(0.5)) / 2 \
        if {"charge", "discharge"} <= branches else 0.0
    reference = REFERENCE_CELLS[chemistry]
    temperatures = sorted({p.temperature_degc for p in model.circuit})
    r0_25 = point.r0_ohm
    try:
        law = ResistanceTemperature.from_points(tuple(
            (t, model.circuit_at(0.5, t).r0_ohm / r0_25) for t in temperatures))
    except ValueError as exc:
        raise ConfigError(f"pack.cell: {model.name}: {exc}") from None
    return ReferenceCell(
        chemistry, model.capacity_ah, point.r0_ohm, r1_ohm, tau1_s / r1_ohm,
        model.heat_capacity_j_per_k, model.conductance_w_per_k,
        OcvTable(curve.soc, curve.ocv_v), reference.balancing_floor_mv,
        voltage_window_v=(model.voltage_min_v, model.voltage_max_v),
        r2_ohm=r2_ohm, c2_f=tau2_s / r2_ohm if r2_ohm > 0 else 0.0,
        hysteresis_v=max(0.0, hysteresis_v), r0_temperature=law, over_soc=_over_soc(model),
        ocv_shift=_ocv_shift(model), pulses=_pulse_map(model))


def _pulse_map(model: CellModel) -> PulseMap:
    """The file's pulses grouped by temperature, direction and amplitude (to 0.01 C), each
    group's resistance over SOC (pulses at one SOC averaged); the length of the most
    common pulse, and only pulses of that length."""
    if not model.pulses:
        return NO_PULSES
    lengths = [q.seconds for q in model.pulses]
    seconds = max(set(lengths), key=lengths.count)
    capacity = model.capacity_ah
    groups: _PulseGroups = {}
    for q in model.pulses:
        if q.seconds == seconds:
            key = (q.temperature_degc, q.current_a > 0, round(abs(q.current_a) / capacity, 2))
            groups.setdefault(key, {}).setdefault(round(q.soc, 4), []).append(
                q.resistance_ohm * capacity)
    temperatures = tuple(sorted({t for t, _, _ in groups}))
    charge = tuple(_pulse_curves(groups, t, True) for t in temperatures)
    discharge = tuple(_pulse_curves(groups, t, False) for t in temperatures)
    if not all(charge) or not all(discharge):
        raise ConfigError(f"pack.cell: {model.name}: its power test needs pulses of both "
                          "directions at every temperature it was run at")
    return PulseMap(seconds, temperatures, charge, discharge,
                    tuple(_pulse_ceiling(groups, t, True) for t in temperatures),
                    tuple(_pulse_ceiling(groups, t, False) for t in temperatures))


_PulseGroups = dict[tuple[float, bool, float], dict[float, list[float]]]


def _pulse_curves(groups: _PulseGroups, temperature: float, charge: bool
                  ) -> tuple[PulseCurve, ...]:
    """One temperature's and direction's curves, amplitudes rising (plain loops: the module
    is compiled, and mypyc takes no lambda in a comprehension of a nested function)."""
    out: list[PulseCurve] = []
    for (t, c, rate), by_soc in sorted(groups.items()):
        if t == temperature and c == charge:
            socs = sorted(by_soc)
            means: list[float] = []
            for x in socs:
                means.append(sum(by_soc[x]) / len(by_soc[x]))
            out.append(PulseCurve(rate, tuple(socs), tuple(means)))
    return tuple(out)  # sorted by rate: the keys are


def _pulse_ceiling(groups: _PulseGroups, temperature: float, charge: bool) -> PulseCeiling:
    """Steps: the pulses in order of SOC, split where SOC jumps by PULSE_STEP_GAP; each
    step's largest amplitude, at that pulse's SOC."""
    points: list[tuple[float, float]] = []
    for (t, c, rate), by_soc in groups.items():
        if t == temperature and c == charge:
            for soc in by_soc:
                points.append((soc, rate))
    points.sort()
    steps: list[list[tuple[float, float]]] = []
    for point in points:
        if not steps or point[0] - steps[-1][-1][0] > PULSE_STEP_GAP:
            steps.append([])
        steps[-1].append(point)
    socs: list[float] = []
    rates: list[float] = []
    for step in steps:
        best = step[0]
        for point in step:
            if point[1] > best[1]:
                best = point
        socs.append(best[0])
        rates.append(best[1])
    return PulseCeiling(tuple(socs), tuple(rates))


def _ocv_shift(model: CellModel) -> OcvShift:
    temperatures = sorted({c.temperature_degc for c in model.ocv})
    if len(temperatures) < 2:
        return NO_SHIFT
    reference = model.ocv_curve()
    grid = tuple(k / (SHIFT_GRID_POINTS - 1) for k in range(SHIFT_GRID_POINTS))
    rows = []
    for t in temperatures:
        curve = model.ocv_curve(t)
        # beyond the range this curve was measured over, its shift at the nearest end
        ends = (curve.soc[0], curve.soc[-1])
        rows.append(tuple(curve.voltage(min(max(s, ends[0]), ends[1]))
                          - reference.voltage(min(max(s, ends[0]), ends[1])) for s in grid))
    return OcvShift(tuple(temperatures), grid, tuple(rows))


def _over_soc(model: CellModel) -> CircuitOverSoc:
    middle = model.circuit_at(0.5)
    points = sorted({p.soc for p in model.circuit
                     if p.temperature_degc == middle.temperature_degc}) or \
        sorted({p.soc for p in model.circuit})
    at = [model.circuit_at(s) for s in points]
    return CircuitOverSoc(
        tuple(points), tuple(p.r0_ohm / middle.r0_ohm for p in at),
        tuple(p.rc[0][0] / middle.rc[0][0] for p in at),
        tuple(p.rc[0][1] / middle.rc[0][1] for p in at))
