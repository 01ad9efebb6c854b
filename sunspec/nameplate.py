"""What the pack is, from its configuration: the static points of models 1 and 802 (the
ratings) and what the scale factors are chosen for. The same pack configuration as the
master's, so the ratings are the master's own limits: the capacity of a series cell
(bms/chemistry.py), the energy at the cell's mean open-circuit voltage, the charge and
discharge ratings at the operating current limits (master/diagnosis/limits.py, a pure
function of the configuration: nothing of a running master is read).
"""

from __future__ import annotations

import importlib.metadata
import itertools
from dataclasses import dataclass

from bms.chemistry import OcvTable, cell_capacity_ah, series_cell
from bms.settings import Settings
from master.diagnosis.limits import resolve_limits

MV_PER_V = 1000.0


@dataclass(frozen=True)
class Nameplate:
    pack: str
    chemistry: str
    version: str
    modules: int
    cells_per_module: int
    sensors_per_module: int
    capacity_ah: float
    energy_wh: float  # at the mean open-circuit voltage, empty to full
    charge_w_max: float  # the operating charge current limit at the nominal voltage
    discharge_w_max: float
    current_a_max: float  # the largest current the pack may see (maximum safety limits)
    voltage_v_max: float  # every cell at its maximum over-voltage limit
    idle_a: float  # below this the pack neither charges nor discharges

    @property
    def cells(self) -> int:
        return self.modules * self.cells_per_module


def mean_ocv_v(ocv: OcvTable) -> float:
    """The mean of the open-circuit voltage over SOC 0..1 (exact: the table is linear
    between its points)."""
    pairs = list(zip(ocv.soc, ocv.voltage_v, strict=True))
    area = sum((s1 - s0) * (v0 + v1) / 2 for (s0, v0), (s1, v1) in itertools.pairwise(pairs))
    return area / (ocv.soc[-1] - ocv.soc[0])


def package_version() -> str:
    try:
        return importlib.metadata.version("pybms")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown"


def nameplate_of(settings: Settings, pack: str) -> Nameplate:
    p = settings.pack
    limits = resolve_limits(settings)
    capacity = cell_capacity_ah(settings)
    nominal_v = mean_ocv_v(series_cell(settings).ocv) * p.cells
    return Nameplate(
        pack=pack, chemistry=p.chemistry.value, version=package_version(),
        modules=p.modules, cells_per_module=p.cells_per_module,
        sensors_per_module=p.temperature_sensors_per_module,
        capacity_ah=capacity, energy_wh=capacity * nominal_v,
        charge_w_max=limits.charge_overcurrent_a.operating * nominal_v,
        discharge_w_max=limits.discharge_overcurrent_a.operating * nominal_v,
        current_a_max=max(limits.charge_overcurrent_a.maximum,
                          limits.discharge_overcurrent_a.maximum),
        voltage_v_max=limits.cell_overvoltage_mv.maximum / MV_PER_V * p.cells,
        idle_a=settings.master.charge_detect_a)
