"""The scenario run's outputs: the time series as CSV and the main series as PNG panels."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

HOUR_S = 3600.0
PLOTTED = ("time_s", "cell_v_min", "cell_v_mean", "cell_v_max", "soc_true_min_pct",
           "soc_true_mean_pct", "soc_true_max_pct", "soc_est_min_pct", "soc_est_mean_pct",
           "soc_est_max_pct", "current_a", "charge_limit_a", "discharge_limit_a",
           "balancing_cells", "temperature_max_degc", "cell_spread_mv")


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else format(value, ".7g")
    return str(value)


class CsvSeries:
    """Writes rows as they come, and keeps the plotted columns for the figure."""

    def __init__(self, stream: IO[str], columns: Sequence[str]) -> None:
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(columns)
        self.columns = columns
        self.kept: dict[str, list[float]] = {name: [] for name in PLOTTED}
        self.rows = 0

    def consume(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            self.writer.writerow([_text(row[name]) for name in self.columns])
            for name, values in self.kept.items():
                values.append(float(row[name]))
            self.rows += 1
            yield row


def plot(kept: dict[str, list[float]], out: Path, title: str) -> None:
    """Cell voltages, SOC true vs estimated, current within its limits, balancing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [t / HOUR_S for t in kept["time_s"]]
    figure, axes = plt.subplots(4, 1, figsize=(11, 11), sharex=True)
    voltage, soc, current, balancing = axes
    for name, style in (("cell_v_max", "-"), ("cell_v_mean", "--"), ("cell_v_min", "-")):
        voltage.plot(hours, kept[name], style, label=name.removeprefix("cell_v_"))
    voltage.set_ylabel("cell voltage (V)")
    for kind, color in (("true", "tab:blue"), ("est", "tab:orange")):
        soc.plot(hours, kept[f"soc_{kind}_mean_pct"], color=color,
                 label=f"{'true' if kind == 'true' else 'estimated'} mean")
        soc.fill_between(hours, kept[f"soc_{kind}_min_pct"], kept[f"soc_{kind}_max_pct"],
                         color=color, alpha=0.2, label=f"{kind} min..max")
    soc.set_ylabel("SOC (%)")
    current.plot(hours, kept["current_a"], label="pack current (+ charges)")
    current.plot(hours, kept["charge_limit_a"], "--", label="charge limit")
    current.plot(hours, [-v for v in kept["discharge_limit_a"]], "--", label="discharge limit")
    current.set_ylabel("current (A)")
    balancing.plot(hours, kept["balancing_cells"], label="cells bleeding")
    balancing.set_ylabel("cells bleeding")
    spread = balancing.twinx()
    spread.plot(hours, kept["cell_spread_mv"], color="tab:red", alpha=0.6,
                label="cell spread (mV)")
    spread.set_ylabel("cell spread (mV)")
    balancing.set_xlabel("time (h)")
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right", fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=90)
    plt.close(figure)
