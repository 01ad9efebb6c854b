"""Regenerate the shipped reference cells and the estimation bench's days from PyBaMM.

    python -m cells.make_data [--only NAME ...] [--days-only | --cells-only | --limits-only]

For every cell below: OCV tests, pulse tests and power tests at 10, 25 and 40 degC are
simulated on PyBaMM's DFN model with the cell's parameter set (`cells.simulate`), and
`cells.fit` identifies the cell model from them, exactly as `bms cell fit` would; then a
day of use is simulated at each temperature, and the currents that take the cell from rest
at 10 ... 90 % SOC to the pack's operating voltage limits in 10 s (`cells.limit_currents`).
The two reference cells' models go to ``cells/data/`` (what ``pack.cell`` names), the
others' beside the days in ``cells/data/days/`` (validation only). Needs PyBaMM (``pip
install -e '.[cells]'``); takes about half an hour on two cores. The results are kept in
the repository, so that the bench and the tests run without PyBaMM.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cells.days import DAYS, save_day
from cells.fit import fit_cell, plot_fit, read_test
from cells.limit_currents import limit_points, write_points
from cells.model import write_cell
from cells.shipped import DATA
from cells.simulate import Cell, Record, simulate

TEMPERATURES_DEGC = (10.0, 25.0, 40.0)


@dataclass(frozen=True)
class Spec:
    name: str
    parameters: str
    chemistry: str
    shipped: bool  # a reference cell users can name; else validation only
    profiles: tuple[tuple[str, int], ...]  # (profile, seed) of the days


CELLS = (
    Spec("lg-m50", "Chen2020", "nmc", True, (("ev", 1),)),
    Spec("a123-26650", "Prada2013", "lfp", True, (("storage", 2), ("ev", 3))),
    Spec("mohtat2020", "Mohtat2020", "nmc", False, (("ev", 4),)),
)


def columns(record: Record) -> dict[str, list[float]]:
    return {"time_s": record.time_s, "current_a": record.current_a,
            "voltage_v": record.voltage_v, "temperature_degc": record.temperature_degc,
            "soc_true": record.soc_true}


def make_limit_currents(spec: Spec, cell_file: Path) -> None:
    """The currents that take the DFN cell to the pack's operating voltage limits in 10 s,
    at each SOC and temperature: what the resistance power limit is measured against."""
    from bms.settings import load_settings
    from master.diagnosis.limits import resolve_limits

    limits = resolve_limits(load_settings(None, [f"pack.chemistry={spec.chemistry.upper()}",
                                                 f"pack.cell={cell_file}"]))
    started = time.monotonic()
    points = [p for temperature in TEMPERATURES_DEGC for p in limit_points(
        Cell(spec.parameters, "DFN", temperature), limits.cell_overvoltage_mv.operating / 1000,
        limits.cell_undervoltage_mv.operating / 1000)]
    path = DAYS / f"{spec.name}-limit-currents.csv"
    write_points(points, path)
    print(f"  {path.name}: {len(points)} points ({time.monotonic() - started:.0f} s)",
          flush=True)


def make(spec: Spec, work: Path, days_only: bool, limits_only: bool = False,
         cells_only: bool = False) -> None:
    folder = DATA if spec.shipped else DAYS
    folder.mkdir(parents=True, exist_ok=True)
    cell_file = folder / f"{spec.name}.toml"
    if not (days_only or limits_only) or not cell_file.exists():
        tests = []
        for procedure, temperature in ((p, t) for p in ("ocv", "hppc", "power")
                                       for t in TEMPERATURES_DEGC):
            started = time.monotonic()
            record = simulate(procedure, Cell(spec.parameters, "DFN", temperature))
            path = work / f"{spec.name}-{procedure}-{temperature:g}.csv"
            record.write(path)
            tests.append(read_test(path))
            print(f"  {spec.name}: {procedure} at {temperature:g} degC "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
        fit = fit_cell(tests, f"{spec.name} (PyBaMM DFN, {spec.parameters})", spec.chemistry,
                       window_v=Cell(spec.parameters, "DFN", 25.0).window_v())
        model = fit.model
        fitted = dataclasses.replace(model, source=(
            f"fitted by bms cell fit to PyBaMM {pybamm_version()} DFN tests of the "
            f"{spec.parameters} parameter set (cells/make_data.py)"))
        write_cell(fitted, cell_file)
        plot_fit(fit, cell_file.with_suffix(".png"))
        print(f"  {spec.name}: {cell_file} (capacity {model.capacity_ah:.3f} Ah, fit RMSE "
              + ", ".join(f"{v:.2f} mV" for v in model.fit_rmse_mv.values()) + ")", flush=True)
    DAYS.mkdir(parents=True, exist_ok=True)
    make_limit_currents(spec, cell_file)
    if limits_only or cells_only:
        return
    for profile, seed in spec.profiles:
        for temperature in TEMPERATURES_DEGC:
            started = time.monotonic()
            record = simulate("day", Cell(spec.parameters, "DFN", temperature), profile, seed)
            name = f"{spec.name}-{temperature:g}c-{profile}"
            save_day(DAYS / f"{name}.npz", {
                "cell": spec.name, "cell_file": str(cell_file.relative_to(DATA)),
                "chemistry": spec.chemistry, "parameters": spec.parameters,
                "model": "DFN", "pybamm": pybamm_version(), "temperature_degc": temperature,
                "profile": profile, "seed": seed}, columns(record))
            print(f"  {name}: {record.time_s[-1] / 3600:.1f} h "
                  f"({time.monotonic() - started:.0f} s)", flush=True)


def pybamm_version() -> str:
    import pybamm

    return str(pybamm.__version__)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m cells.make_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[], help="these cells only")
    parser.add_argument("--days-only", action="store_true",
                        help="keep the fitted cell files, simulate the days again")
    parser.add_argument("--cells-only", action="store_true",
                        help="fit the cell files (and their limit currents) again, keep the "
                             "days")
    parser.add_argument("--limits-only", action="store_true",
                        help="keep the cell files and the days, compute the 10 s limit "
                             "currents again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for spec in CELLS:
            if args.only and spec.name not in args.only:
                continue
            print(f"{spec.name} ({spec.parameters}):", flush=True)
            make(spec, Path(work), args.days_only, args.limits_only, args.cells_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
