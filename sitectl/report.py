"""What the site controller publishes and shows (sitectl/core.py makes it, every reader
reads it): each pack with its role in the site, and the site as one battery."""

from __future__ import annotations

from dataclasses import dataclass

from sitectl.packs import Extreme, PackView


@dataclass(frozen=True)
class PackStatus:
    name: str
    role: str  # offline, fault, waiting, joining, connected, silent
    reason: str
    view: PackView
    share: float | None = None  # of each ampere of the site's current, when connected


@dataclass(frozen=True)
class SiteReport:
    """What the site publishes and shows: every pack and the site as one battery."""

    time_s: float
    packs: tuple[PackStatus, ...]
    online: int
    connected: int
    charge_a: float  # as sent to the inverter (after steering and silence)
    discharge_a: float
    charge_limiter: str
    discharge_limiter: str
    steering: str
    steering_reason: str
    voltage_v: float | None  # the bus, as the connected packs measure it
    current_a: float  # the connected packs' sum (positive charges)
    soc_pct: float | None  # weighted by capacity, over the connected packs
    soe_kwh: float | None
    soh_pct: float | None
    capacity_ah: float
    voltage_max_v: float | None  # the window every connected pack allows
    voltage_min_v: float | None
    cell_voltage_mv: tuple[Extreme, Extreme] | None  # (highest, lowest) of the site
    temperature_degc: tuple[Extreme, Extreme] | None
    warnings: tuple[str, ...]
    notes: tuple[tuple[float, str], ...]

    def pack(self, name: str) -> PackStatus:
        for status in self.packs:
            if status.name == name:
                return status
        raise KeyError(name)


