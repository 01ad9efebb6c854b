"""`bms log plot`: signals over time from a log, one stacked panel per pattern, with units
and a legend. Signals with a value table (a state) are drawn as steps labelled by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from replay.decoder import LogDecoder, RowFilter, signal_matches
from replay.logged import LoggedFrame

MAX_LEGEND_ENTRIES = 24


@dataclass
class Series:
    label: str
    unit: str
    choices: dict[int, str]
    times_s: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


def collect(frames: Iterable[LoggedFrame], patterns: list[str], decoder: LogDecoder,
            row_filter: RowFilter) -> list[dict[str, Series]]:
    """For each pattern, the matching series keyed by message[module].signal."""
    panels: list[dict[str, Series]] = [{} for _ in patterns]
    for logged in frames:
        if not row_filter.wants_time(logged.time_s) or \
                not row_filter.wants_id(logged.frame.arbitration_id):
            continue
        row = decoder.decode(logged)
        if row.problem or not row.signals or \
                (row_filter.modules and row.module not in row_filter.modules):
            continue
        resolved = decoder.resolve(logged)
        assert resolved is not None
        _, layout, _ = resolved
        raw = layout.fast.decode(logged.frame.data)  # numbers, not value-table names
        for panel, pattern in zip(panels, patterns, strict=True):
            for signal in row.signals:
                if not signal_matches(pattern, row.message, signal.name):
                    continue
                value = raw.get(signal.name)
                if not isinstance(value, (int, float)):
                    continue
                module = "" if row.module is None else f"[{row.module}]"
                key = f"{row.message}{module}.{signal.name}"
                series = panel.get(key)
                if series is None:
                    series = panel[key] = Series(
                        f"{signal.name}{module}", signal.unit, layout.choices(signal.name))
                series.times_s.append(logged.time_s)
                series.values.append(float(value))
    return panels


def plot(panels: list[dict[str, Series]], patterns: list[str], out: Path, title: str) -> int:
    """Draw the panels into ``out`` (PNG, SVG or PDF by extension); returns the series count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                                figsize=(11, 2.8 * len(panels) + 0.8))
    for ax, panel, pattern in zip(axes[:, 0], panels, patterns, strict=True):
        units = sorted({s.unit for s in panel.values()})
        for key in sorted(panel):
            series = panel[key]
            if series.choices:
                ax.step(series.times_s, series.values, where="post", label=series.label)
            else:
                ax.plot(series.times_s, series.values, label=series.label, linewidth=1.0)
        choices = next((s.choices for s in panel.values() if s.choices), None)
        if choices:
            ax.set_yticks(list(choices), [choices[k] for k in choices])
        ax.set_ylabel(f"{pattern}\n[{', '.join(u for u in units if u) or '-'}]")
        ax.grid(True, alpha=0.3)
        if not panel:
            ax.text(0.5, 0.5, f"no signal matches {pattern!r}", transform=ax.transAxes,
                    ha="center")
        elif len(panel) <= MAX_LEGEND_ENTRIES:
            ax.legend(fontsize="x-small", ncol=max(1, len(panel) // 8), loc="upper right")
    axes[-1, 0].set_xlabel("time since the start of the log [s]")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return sum(len(p) for p in panels)
