"""`bms sim run SCENARIO.toml`: a scenario on the lockstep pack, as fast as the CPU allows."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bms.cli_common import EXIT_CONFIG

DESCRIPTION = """\
Run a scenario (a pack configuration and time-stamped events: drives, parking, charges,
ambient changes, injected faults, balancing settings) on the lockstep pack: the slave cores,
the master core, the HV box with its current sensor and the VCU in one process on virtual
time, exchanging the encoded frames of the real buses. Writes to OUT:

  timeseries.csv  one row per sample period: true and estimated SOC, cell voltages,
                  current and limits, balancing, faults (--cells: every cell too)
  plots.png       cell voltages, SOC true vs estimated, current within its limits, balancing
  journal.txt     the master's events and the scenario's, with their virtual time
  summary.json    speed, SOC error after the first 10 minutes, faults, charge completions

Same scenario and configuration, same files, bit for bit. Examples: sim/scenarios/.
"""


def add_parser(peers: Any) -> None:
    parser = peers.add_parser(
        "run", help="run a scenario on the lockstep pack (time series, plots, summary)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", type=Path, help="scenario file (TOML)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output directory (default: runs/<scenario name>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a pack setting (repeatable)")
    parser.add_argument("--cells", action="store_true",
                        help="also write every cell's voltage and true and estimated SOC")
    parser.add_argument("--no-plot", action="store_true", help="skip plots.png")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bms.errors import ConfigError
    from bms.settings import load_settings
    from sim.scenario import load_scenario

    try:
        scenario = load_scenario(args.scenario)
        # the VCU waits for the scenario's events instead of its own start plan
        overrides = ["sim.vcu.request=standby", *scenario.header.set, *args.overrides]
        settings = load_settings(scenario.config_path, overrides)
    except ConfigError as exc:
        print(f"scenario error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    out: Path = args.out or Path("runs") / scenario.name
    out.mkdir(parents=True, exist_ok=True)
    summary = execute(scenario, settings, out, cells=args.cells, plot=not args.no_plot,
                      quiet=args.quiet)
    print(json.dumps(summary, indent=2))
    return 0


def execute(scenario: Any, settings: Any, out: Path, cells: bool = False, plot: bool = True,
            quiet: bool = True) -> dict[str, Any]:
    from sim.scenario_run import ScenarioRun
    from sim.timeseries import CsvSeries
    from sim.timeseries import plot as draw

    run = ScenarioRun(scenario, settings, cell_columns=cells)
    duration_s = scenario.header.duration_s
    with (out / "timeseries.csv").open("w", newline="") as stream, \
            _Progress(duration_s, quiet) as progress:
        series = CsvSeries(stream, run.columns)
        for _ in series.consume(run.rows(progress.update)):
            pass
    (out / "journal.txt").write_text("".join(f"{t:12.3f}  {text}\n" for t, text in
                                             sorted(run.journal, key=lambda e: e[0])))
    if plot:
        draw(series.kept, out / "plots.png",
             f"{scenario.name}: {settings.pack.modules} x {settings.pack.cells_per_module} "
             f"{settings.pack.chemistry.value}")
    summary = run.summary.as_dict()
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _Progress:
    """A progress bar on a terminal, a line every 10 % otherwise (both on stderr)."""

    def __init__(self, total_s: float, quiet: bool) -> None:
        self.total_s = total_s
        self.quiet = quiet
        self._bar: Any = None
        self._task: Any = None
        self._next_tenth = 1

    def __enter__(self) -> _Progress:
        if not self.quiet and sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("virtual time", total=self.total_s)
        return self

    def update(self, now_s: float) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=now_s)
        elif now_s >= self._next_tenth * self.total_s / 10:
            print(f"  {self._next_tenth * 10} % ({now_s:.0f} of {self.total_s:.0f} s)",
                  file=sys.stderr, flush=True)
            self._next_tenth += 1

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
