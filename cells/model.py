"""A cell model as data: the cell file (TOML, with CSV tables beside it), read and written.

A cell file says what the estimator, the limits, the power limits and the virtual pack's
plant need to know of one cell (docs/cells.md gives the format with an example):

- its capacity;
- its OCV over SOC, with as many points as were measured, optionally per temperature and as
  charge and discharge branches (hysteresis);
- R0 and one or two RC pairs (resistance and time constant) over SOC and temperature;
- its thermal parameters and voltage limits.

Tables interpolate linearly between points and hold the end values beyond them.
"""

from __future__ import annotations

import csv
import math
import tomllib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

FORMAT = 1
BRANCHES = ("mean", "charge", "discharge")
REFERENCE_TEMPERATURE_DEGC = 25.0


class CellFileError(ValueError):
    """A cell file (or one of its tables) that cannot be used, with where and why."""


def interpolate(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Linear between points, the end values beyond them."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, x) - 1
    x0, x1 = xs[i], xs[i + 1]
    return ys[i] + (ys[i + 1] - ys[i]) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class OcvCurveData:
    """OCV over SOC (0..1) at one temperature, one branch."""

    temperature_degc: float
    branch: str  # "mean", "charge" or "discharge"
    soc: tuple[float, ...]
    ocv_v: tuple[float, ...]

    def voltage(self, soc: float) -> float:
        return interpolate(self.soc, self.ocv_v, soc)


@dataclass(frozen=True)
class CircuitPoint:
    """The equivalent circuit at one SOC and temperature."""

    temperature_degc: float
    soc: float
    r0_ohm: float
    rc: tuple[tuple[float, float], ...]  # (R ohm, tau s) per RC pair


@dataclass(frozen=True)
class PulsePoint:
    """A power-capability test's pulse: from rest at ``soc``, a constant current for
    ``seconds`` moved the voltage by ``resistance_ohm`` x the current (the OCV's move with
    the charge included). What the resistance power limit reads where the cell file has
    them: the fitted circuit is linear in the current, a real cell is not."""

    temperature_degc: float
    soc: float
    current_a: float  # positive charges
    seconds: float
    resistance_ohm: float


@dataclass(frozen=True)
class CellModel:
    name: str
    chemistry: str  # "nmc" or "lfp": the limits' defaults and the balancing floor
    capacity_ah: float
    ocv: tuple[OcvCurveData, ...]
    circuit: tuple[CircuitPoint, ...]
    voltage_max_v: float
    voltage_min_v: float
    heat_capacity_j_per_k: float = 70.0
    conductance_w_per_k: float = 0.1
    source: str = ""  # where the data came from
    fit_rmse_mv: dict[str, float] = field(default_factory=dict)  # per test, when fitted
    # measured in the pulse tests: dV/dI 1 s into the discharge pulse nearest 50 % SOC, per
    # test temperature (degC): what a learnt R0 is compared with
    pulse_resistance_1s_ohm: dict[float, float] = field(default_factory=dict)
    pulses: tuple[PulsePoint, ...] = ()  # from a power test, when one was fitted

    @property
    def rc_pairs(self) -> int:
        return len(self.circuit[0].rc)

    def ocv_curve(self, temperature_degc: float = REFERENCE_TEMPERATURE_DEGC,
                  branch: str = "mean") -> OcvCurveData:
        """The curve of ``branch`` nearest ``temperature_degc`` (the mean of the charge and
        discharge branches when no mean one was given)."""
        curves = [c for c in self.ocv if c.branch == branch]
        if not curves and branch == "mean":
            return self._mean_curve(temperature_degc)
        if not curves:
            raise CellFileError(f"{self.name}: no {branch} OCV branch")
        return min(curves, key=lambda c: abs(c.temperature_degc - temperature_degc))

    def _mean_curve(self, temperature_degc: float) -> OcvCurveData:
        charge = self.ocv_curve(temperature_degc, "charge")
        discharge = self.ocv_curve(temperature_degc, "discharge")
        grid = sorted(set(charge.soc) | set(discharge.soc))
        return OcvCurveData(charge.temperature_degc, "mean", tuple(grid),
                            tuple((charge.voltage(s) + discharge.voltage(s)) / 2 for s in grid))

    def circuit_at(self, soc: float, temperature_degc: float = REFERENCE_TEMPERATURE_DEGC
                   ) -> CircuitPoint:
        """R0 and the RC pairs at ``soc``, interpolated in SOC at the nearest temperature
        tabulated below and above, then in temperature."""
        temperatures = sorted({p.temperature_degc for p in self.circuit})
        below = max((t for t in temperatures if t <= temperature_degc), default=temperatures[0])
        above = min((t for t in temperatures if t >= temperature_degc), default=temperatures[-1])
        low, high = self._at_temperature(below, soc), self._at_temperature(above, soc)
        if above == below:
            return low
        w = (temperature_degc - below) / (above - below)

        def mix(a: float, b: float) -> float:
            return a + (b - a) * w
        return CircuitPoint(temperature_degc, soc, mix(low.r0_ohm, high.r0_ohm),
                            tuple((mix(ra, rb), mix(ta, tb))
                                  for (ra, ta), (rb, tb) in zip(low.rc, high.rc, strict=True)))

    def _at_temperature(self, temperature_degc: float, soc: float) -> CircuitPoint:
        points = sorted((p for p in self.circuit if p.temperature_degc == temperature_degc),
                        key=lambda p: p.soc)
        socs = [p.soc for p in points]
        return CircuitPoint(
            temperature_degc, soc, interpolate(socs, [p.r0_ohm for p in points], soc),
            tuple((interpolate(socs, [p.rc[k][0] for p in points], soc),
                   interpolate(socs, [p.rc[k][1] for p in points], soc))
                  for k in range(len(points[0].rc))))


# --- reading ------------------------------------------------------------------------------


def load_cell(path: str | Path) -> CellModel:
    """Read a cell file and its tables; `CellFileError` says what is wrong and where."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CellFileError(f"{path}: {exc}") from exc
    where = str(path)
    fmt = data.get("format")
    if fmt != FORMAT:
        raise CellFileError(f"{where}: format = {fmt!r}: this version reads format {FORMAT}")
    known = {"format", "name", "chemistry", "capacity_ah", "source", "ocv", "circuit",
             "pulses", "thermal", "limits", "fit"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CellFileError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    chemistry = _get(data, "chemistry", str, where)
    if chemistry not in ("nmc", "lfp"):
        raise CellFileError(f"{where}: chemistry {chemistry!r}: one of nmc, lfp")
    capacity = _positive(_get(data, "capacity_ah", float, where), "capacity_ah", where)
    limits = _get(data, "limits", dict, where)
    thermal = data.get("thermal", {})
    model = CellModel(
        name=str(data.get("name", path.stem)),
        chemistry=chemistry,
        capacity_ah=capacity,
        ocv=_read_ocv(path.parent / _table(data, "ocv", where), where),
        circuit=_read_circuit(path.parent / _table(data, "circuit", where), where),
        voltage_max_v=_get(limits, "voltage_max_v", float, f"{where} [limits]"),
        voltage_min_v=_get(limits, "voltage_min_v", float, f"{where} [limits]"),
        heat_capacity_j_per_k=_positive(float(thermal.get("heat_capacity_j_per_k", 70.0)),
                                        "heat_capacity_j_per_k", where),
        conductance_w_per_k=_positive(float(thermal.get("conductance_w_per_k", 0.1)),
                                      "conductance_w_per_k", where),
        source=str(data.get("source", "")),
        fit_rmse_mv={str(k): float(v) for k, v in data.get("fit", {}).items()
                     if not isinstance(v, dict)},
        pulse_resistance_1s_ohm={
            float(k): float(v) / 1000.0 for k, v in
            data.get("fit", {}).get("pulse_resistance_1s_mohm", {}).items()},
        pulses=_read_pulses(path.parent / _table(data, "pulses", where), where)
        if "pulses" in data else (),
    )
    if not model.voltage_min_v < model.voltage_max_v:
        raise CellFileError(f"{where}: voltage_min_v must be below voltage_max_v")
    return model


def _get(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise CellFileError(f"{where}: {key} is missing")
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CellFileError(f"{where}: {key} must be a {kind.__name__}, not {value!r}")
    return value


def _positive(value: float, key: str, where: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise CellFileError(f"{where}: {key} must be a positive number, not {value}")
    return value


def _table(data: dict[str, Any], key: str, where: str) -> str:
    section = _get(data, key, dict, where)
    return str(_get(section, "csv", str, f"{where} [{key}]"))


def _rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
            columns = set(rows[0]) if rows else set()
    except OSError as exc:
        raise CellFileError(f"{path}: {exc}") from exc
    missing = [c for c in required if c not in columns]
    if missing:
        raise CellFileError(f"{path}: needs columns {list(required)}, lacks {missing}")
    return rows


def _number(row: dict[str, str], column: str, path: Path, line: int) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError) as exc:
        raise CellFileError(f"{path}:{line}: {column} {row[column]!r} is not a number") from exc
    if not math.isfinite(value):
        raise CellFileError(f"{path}:{line}: {column} is {value}")
    return value


def _read_ocv(path: Path, where: str) -> tuple[OcvCurveData, ...]:
    rows = _rows(path, ("soc", "ocv_v"))
    curves: dict[tuple[float, str], list[tuple[float, float]]] = {}
    for line, row in enumerate(rows, start=2):
        temperature = _number(row, "temperature_degc", path, line) \
            if row.get("temperature_degc") not in (None, "") else REFERENCE_TEMPERATURE_DEGC
        branch = row.get("branch") or "mean"
        if branch not in BRANCHES:
            raise CellFileError(f"{path}:{line}: branch {branch!r}: one of {BRANCHES}")
        soc, ocv = _number(row, "soc", path, line), _number(row, "ocv_v", path, line)
        if not 0.0 <= soc <= 1.0:
            raise CellFileError(f"{path}:{line}: soc {soc} outside 0..1")
        curves.setdefault((temperature, branch), []).append((soc, ocv))
    result = []
    for (temperature, branch), points in sorted(curves.items()):
        points.sort()
        socs = [s for s, _ in points]
        volts = [v for _, v in points]
        if len(points) < 2 or len(set(socs)) != len(socs):
            raise CellFileError(f"{path}: the {branch} curve at {temperature:g} degC needs two "
                                "or more points of distinct SOC")
        if any(b < a for a, b in pairwise(volts)):
            raise CellFileError(f"{path}: the {branch} curve at {temperature:g} degC falls "
                                "somewhere as SOC rises: OCV must not decrease")
        result.append(OcvCurveData(temperature, branch, tuple(socs), tuple(volts)))
    if not result:
        raise CellFileError(f"{path}: no OCV points ({where})")
    return tuple(result)


def _read_circuit(path: Path, where: str) -> tuple[CircuitPoint, ...]:
    rows = _rows(path, ("soc", "r0_ohm"))
    columns = set(rows[0])
    pairs = 2 if {"r2_ohm", "tau2_s"} <= columns else 1 if {"r1_ohm", "tau1_s"} <= columns \
        else 0
    if pairs == 0:
        raise CellFileError(f"{path}: needs r1_ohm and tau1_s (and r2_ohm, tau2_s for a "
                            "second RC pair)")
    points = []
    for line, row in enumerate(rows, start=2):
        temperature = _number(row, "temperature_degc", path, line) \
            if row.get("temperature_degc") not in (None, "") else REFERENCE_TEMPERATURE_DEGC
        names = ["r0_ohm", *(f"{k}{i}{u}" for i in range(1, pairs + 1)
                             for k, u in (("r", "_ohm"), ("tau", "_s")))]
        values = [_number(row, n, path, line) for n in names]
        if any(v <= 0 for v in values):
            raise CellFileError(f"{path}:{line}: resistances and time constants must be "
                                "positive")
        points.append(CircuitPoint(temperature, _number(row, "soc", path, line), values[0],
                                   tuple((values[1 + 2 * i], values[2 + 2 * i])
                                         for i in range(pairs))))
    if not points:
        raise CellFileError(f"{path}: no circuit points ({where})")
    return tuple(points)


def _read_pulses(path: Path, where: str) -> tuple[PulsePoint, ...]:
    columns = ("temperature_degc", "soc", "current_a", "seconds", "resistance_ohm")
    rows = _rows(path, columns)
    points = tuple(PulsePoint(*(_number(row, c, path, line) for c in columns))
                   for line, row in enumerate(rows, start=2))
    for line, p in enumerate(points, start=2):
        if p.resistance_ohm <= 0 or p.seconds <= 0 or p.current_a == 0:
            raise CellFileError(f"{path}:{line}: a pulse needs a current, a positive length "
                                "and a positive resistance")
    if not points:
        raise CellFileError(f"{path}: no pulses ({where})")
    return points


# --- writing ------------------------------------------------------------------------------


def write_cell(model: CellModel, path: str | Path) -> list[Path]:
    """Write ``model`` as a cell file and its two tables beside it; the paths written."""
    path = Path(path)
    stem = path.with_suffix("")
    ocv_path, circuit_path = Path(f"{stem}-ocv.csv"), Path(f"{stem}-circuit.csv")
    with ocv_path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["temperature_degc", "branch", "soc", "ocv_v"])
        for curve in model.ocv:
            for soc, ocv in zip(curve.soc, curve.ocv_v, strict=True):
                out.writerow([f"{curve.temperature_degc:g}", curve.branch, f"{soc:.5f}",
                              f"{ocv:.5f}"])
    with circuit_path.open("w", newline="") as f:
        out = csv.writer(f)
        pairs = model.rc_pairs
        out.writerow(["temperature_degc", "soc", "r0_ohm",
                      *(c for i in range(1, pairs + 1) for c in (f"r{i}_ohm", f"tau{i}_s"))])
        for p in model.circuit:
            out.writerow([f"{p.temperature_degc:g}", f"{p.soc:.4f}", f"{p.r0_ohm:.6f}",
                          *(f"{v:.6g}" for r, tau in p.rc for v in (r, tau))])
    written = [path, ocv_path, circuit_path]
    pulses = ""
    if model.pulses:
        pulses_path = Path(f"{stem}-pulses.csv")
        with pulses_path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["temperature_degc", "soc", "current_a", "seconds", "resistance_ohm"])
            for q in model.pulses:
                out.writerow([f"{q.temperature_degc:g}", f"{q.soc:.4f}", f"{q.current_a:.4f}",
                              f"{q.seconds:g}", f"{q.resistance_ohm:.6f}"])
        pulses = f"\n\n[pulses]  # a power test's pulses\ncsv = {_quote(pulses_path.name)}"
        written.append(pulses_path)
    fit = "".join(f"{_quote(k)} = {v:.3f}\n" for k, v in model.fit_rmse_mv.items())
    if model.pulse_resistance_1s_ohm:
        fit += "pulse_resistance_1s_mohm = {" + ", ".join(
            f'"{t:g}" = {1000 * r:.3f}' for t, r in sorted(model.pulse_resistance_1s_ohm.items())
        ) + "}  # measured, nearest 50 % SOC, per degC\n"
    path.write_text(
        f"# A cell model for pybms (docs/cells.md)\nformat = {FORMAT}\n"
        f"name = {_quote(model.name)}\nchemistry = {_quote(model.chemistry)}\n"
        f"capacity_ah = {model.capacity_ah:.4f}\nsource = {_quote(model.source)}\n\n"
        f"[ocv]\ncsv = {_quote(ocv_path.name)}\n\n[circuit]\ncsv = {_quote(circuit_path.name)}"
        f"{pulses}\n\n[thermal]\nheat_capacity_j_per_k = {model.heat_capacity_j_per_k:g}\n"
        f"conductance_w_per_k = {model.conductance_w_per_k:g}\n\n"
        f"[limits]\nvoltage_max_v = {model.voltage_max_v:g}\n"
        f"voltage_min_v = {model.voltage_min_v:g}\n"
        + (f"\n[fit]  # the fitted model's voltage RMSE per test, mV\n{fit}" if fit else ""))
    return written


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
