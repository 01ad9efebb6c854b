"""`bms cell`: cell models (docs/cells.md): simulate tests, fit a model to them, show one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cells.simulate import PROCEDURES

DESCRIPTION = """\
A cell model is a TOML file with CSV tables beside it (docs/cells.md): capacity, OCV over
SOC, R0 and RC pairs over SOC and temperature, thermal parameters and voltage limits.
`[pack] cell = "FILE"` makes the estimator, the limits, the power limits and the virtual
pack's plant use it.

  bms cell simulate ocv  -o ocv.csv    # a C/20 OCV test of a PyBaMM DFN cell (Chen2020)
  bms cell simulate hppc -o hppc.csv   # a pulse test of the same cell
  bms cell fit ocv.csv hppc.csv -o my-cell.toml   # identify the model; plots the fit
  bms cell show my-cell.toml

`simulate` needs PyBaMM (pip install -e '.[cells]'); `fit` needs scipy (the same group).
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cell", help="cell models: simulate tests with PyBaMM, fit a model, show one",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    simulate = actions.add_parser(
        "simulate", help="test data of a PyBaMM cell, as a cycler exports it",
        description="Run a test procedure on a PyBaMM model and write the cycler-style CSV "
                    "(time_s, current_a positive charging, voltage_v, temperature_degc, "
                    "step, soc_true). ocv: C/20 discharge and charge between the cut-offs; "
                    "hppc: nine 10 %% steps with an hour's rest and a 1 C discharge and "
                    "0.75 C charge pulse each; power: ten steps with 10 s pulses of rising "
                    "amplitude (C/5 to 6 C), for the 10 s limit currents; day: a day of use "
                    "(--profile, --seed).")
    simulate.add_argument("procedure", choices=PROCEDURES)
    simulate.add_argument("-o", "--output", type=Path, required=True, help="the CSV to write")
    simulate.add_argument("--parameters", default="Chen2020",
                          help="a PyBaMM parameter set (default Chen2020: LG M50 NMC811; "
                               "Prada2013: A123 LFP; others PyBaMM ships: Mohtat2020, "
                               "OKane2022, Ecker2015, Marquis2019, ...)")
    simulate.add_argument("--model", default="DFN", choices=("DFN", "SPMe", "SPM"))
    simulate.add_argument("--temperature", type=float, default=25.0,
                          help="ambient and initial temperature, degC (default 25)")
    simulate.add_argument("--profile", default="ev", choices=("ev", "storage"),
                          help="the day's kind of use (procedure day)")
    simulate.add_argument("--seed", type=int, default=1, help="the day's random seed")
    simulate.set_defaults(run=run_simulate)

    fit = actions.add_parser(
        "fit", help="identify a cell model from an OCV test and pulse tests",
        description="Fit capacity and OCV (from the OCV test; a curve per temperature "
                    "where OCV tests at several were given, on the axis of the one nearest "
                    "25 degC) and R0 and RC pairs per SOC "
                    "step (from each pulse test, at its temperature) by least squares; print "
                    "the voltage RMSE per step, write the cell file with its tables and a "
                    "plot of the fit (FILE.png).")
    fit.add_argument("tests", nargs="+", type=Path, help="CSV files: OCV tests and pulse "
                     "tests (each at one or several temperatures)")
    fit.add_argument("-o", "--output", type=Path, required=True, help="the cell file (.toml)")
    fit.add_argument("--name", help="the cell's name (default: the output's)")
    fit.add_argument("--chemistry", choices=("nmc", "lfp"), required=True)
    fit.add_argument("--rc-pairs", type=int, choices=(1, 2), default=2)
    fit.add_argument("--columns", default="",
                     help="a cycler's column names: time_s=Test_Time,current_a=Current,"
                          "voltage_v=Voltage,temperature_degc=Temperature (current must be "
                          "positive while charging)")
    fit.add_argument("--voltage-window", type=float, nargs=2, metavar=("MIN_V", "MAX_V"),
                     help="the maker's voltage limits (default: the OCV test's extremes)")
    fit.set_defaults(run=run_fit)

    show = actions.add_parser("show", help="what a cell file holds",
                              description="Read a cell file (or a shipped cell by name) and "
                                          "print its capacity, OCV and circuit.")
    show.add_argument("cell", nargs="?", help="a .toml file or a shipped cell's name; none: "
                                              "list the shipped cells")
    show.set_defaults(run=run_show)


def run_simulate(args: argparse.Namespace) -> int:
    from cells.simulate import Cell, SimulationError, simulate

    cell = Cell(args.parameters, args.model, args.temperature)
    print(f"simulating {args.procedure} on PyBaMM {args.model} ({args.parameters}) at "
          f"{args.temperature:g} degC ...", file=sys.stderr, flush=True)
    try:
        record = simulate(args.procedure, cell, args.profile, args.seed)
    except SimulationError as exc:
        print(f"bms cell simulate: {exc}", file=sys.stderr)
        return 1
    record.write(args.output)
    hours = record.time_s[-1] / 3600 if record.time_s else 0.0
    print(f"{args.output}: {len(record.time_s):,} samples over {hours:.1f} h, "
          f"{min(record.voltage_v):.3f} to {max(record.voltage_v):.3f} V")
    return 0


def run_fit(args: argparse.Namespace) -> int:
    from cells.fit import OCV_TOLERANCE_V, FitError, fit_cell, plot_fit, read_test
    from cells.model import write_cell

    try:
        columns = dict(item.split("=", 1) for item in args.columns.split(",") if item)
    except ValueError:
        print("bms cell fit: --columns takes ours=theirs pairs separated by commas",
              file=sys.stderr)
        return 2
    try:
        tests = [read_test(path, columns) for path in args.tests]
        fit = fit_cell(tests, args.name or args.output.stem, args.chemistry, args.rc_pairs,
                       tuple(args.voltage_window) if args.voltage_window else None)
    except ImportError as exc:
        print(f"bms cell fit: {exc}: pip install -e '.[cells]'", file=sys.stderr)
        return 1
    except FitError as exc:
        print(f"bms cell fit: {exc}", file=sys.stderr)
        return 1
    model = fit.model
    print(f"capacity {model.capacity_ah:.4f} Ah; OCV {len(fit.ocv.curve.soc)} points "
          f"(within {1000 * OCV_TOLERANCE_V:.1f} mV of the measured mean), half the "
          f"branches' gap up to {1000 * fit.ocv.half_gap_v:.1f} mV")
    for curve in model.ocv:
        if curve is not fit.ocv.curve:
            middle = curve.voltage(0.5) - fit.ocv.curve.voltage(0.5)
            print(f"  OCV at {curve.temperature_degc:g} degC: {len(curve.soc)} points, "
                  f"{1000 * middle:+.1f} mV at 50 % against {fit.ocv.curve.temperature_degc:g} "
                  "degC")
    print(" degC    SOC  R0 mOhm  " + "  ".join(f"R{k} mOhm  tau{k} s" for k in
                                               range(1, model.rc_pairs + 1))
          + "  RMSE mV  1 s pulse mOhm")
    for s in sorted(fit.steps, key=lambda s: (s.temperature_degc, -s.soc)):
        rc = "  ".join(f"{1000 * r:7.2f}  {tau:7.1f}" for r, tau in s.rc)
        print(f"{s.temperature_degc:5.0f}  {s.soc:5.3f}  {1000 * s.r0_ohm:7.2f}  {rc}  "
              f"{1000 * s.rmse_v:7.2f}  {1000 * s.pulse_resistance_ohm:7.2f}")
    if model.pulses:
        print(f"power test: {len(model.pulses)} full-length pulses; their resistance "
              "(voltage moved per A) nearest 50 % SOC, mOhm:")
        for temperature in sorted({q.temperature_degc for q in model.pulses}):
            mine = [q for q in model.pulses if q.temperature_degc == temperature]
            by_current: dict[float, list[Any]] = {}
            for q in mine:
                by_current.setdefault(round(q.current_a, 2), []).append(q)
            nearest = {a: min(qs, key=lambda q: abs(q.soc - 0.5))
                       for a, qs in sorted(by_current.items())}
            cells = [f"{a:+.2f} A {1000 * q.resistance_ohm:.1f}" for a, q in nearest.items()]
            print(f"  {temperature:g} degC: " + ", ".join(cells))
    written = write_cell(model, args.output)
    picture = args.output.with_suffix(".png")
    plot_fit(fit, picture)
    print("wrote " + ", ".join(str(p) for p in [*written, picture]))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from cells.model import CellFileError, load_cell
    from cells.shipped import cell_path, shipped

    if args.cell is None:
        print("shipped cells: " + ", ".join(shipped()))
        return 0
    try:
        model = load_cell(cell_path(args.cell))
    except CellFileError as exc:
        print(f"bms cell show: {exc}", file=sys.stderr)
        return 1
    print(f"{model.name} ({model.chemistry}): {model.capacity_ah:.3f} Ah, "
          f"{model.voltage_min_v:g} to {model.voltage_max_v:g} V; {model.source}")
    for curve in model.ocv:
        print(f"  OCV {curve.branch} at {curve.temperature_degc:g} degC: {len(curve.soc)} "
              f"points, {curve.ocv_v[0]:.3f} V at SOC 0 to {curve.ocv_v[-1]:.3f} V at 1")
    for soc in (0.9, 0.5, 0.2):
        p = model.circuit_at(soc)
        rc = ", ".join(f"R{k} {1000 * r:.2f} mOhm tau{k} {tau:.0f} s"
                       for k, (r, tau) in enumerate(p.rc, start=1))
        print(f"  at SOC {soc:.1f}, 25 degC: R0 {1000 * p.r0_ohm:.2f} mOhm, {rc}")
    return 0
