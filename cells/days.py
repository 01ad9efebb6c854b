"""Days of a simulated cell, kept small: what the estimation bench and its tests replay.

A day is one NumPy ``.npz`` file (compressed) of integer columns at 1 s: time (0.1 s),
current (mA, positive charging), terminal voltage (0.1 mV), temperature (0.01 degC) and the
model's own SOC (1e-7), with what made it (the PyBaMM model, parameter set, ambient
temperature, profile, seed) in its ``meta`` entry. `cells/make_data.py` writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCALES = {"time_s": 10.0, "current_a": 1000.0, "voltage_v": 10_000.0,
          "temperature_degc": 100.0, "soc_true": 1e7}
DAYS = Path(__file__).resolve().parent / "data" / "days"


@dataclass(frozen=True)
class Day:
    name: str
    meta: dict[str, Any]  # model, parameters, chemistry, temperature_degc, profile, seed
    time_s: Any  # float64 arrays
    current_a: Any
    voltage_v: Any
    temperature_degc: Any
    soc_true: Any


def save_day(path: Path, meta: dict[str, Any], columns: dict[str, Any]) -> None:
    arrays = {name: np.round(np.asarray(columns[name], dtype=float) * scale).astype(np.int64)
              for name, scale in SCALES.items()}
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load_day(path: Path) -> Day:
    with np.load(path) as data:
        columns = {name: data[name].astype(float) / scale for name, scale in SCALES.items()}
        meta = json.loads(str(data["meta"]))
    return Day(path.stem, meta, **columns)


def stored_days() -> list[Path]:
    return sorted(DAYS.glob("*.npz"))
