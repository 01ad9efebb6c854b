"""What the site knows of each pack: the newest of its telemetry (master/telemetry/payloads.py,
already unpacked), with the pack's time of each. Pure: ``take`` refuses what it cannot read
(a missing or mistyped key) and keeps the newest; nothing here decides."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

CLOSED_STATES = ("NORMAL", "CHARGE")
FALL_WINDOW_S = 5.0  # two limits further apart than this say nothing of how fast they fall


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Extreme:
    """A cell's value and where it is."""

    value: float
    pack: str
    module: int
    index: int  # the cell (or sensor) in its module

    def payload(self) -> dict[str, Any]:
        return {"value": self.value, "pack": self.pack, "module": self.module,
                "index": self.index}


def extremes(values: list[Any], per_module: int, pack: str) -> tuple[Extreme, Extreme] | None:
    """(highest, lowest) of a module-after-module array (None entries skipped)."""
    found = [(float(v), i) for i, v in enumerate(values)
             if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
    if not found or per_module <= 0:
        return None
    high, low = max(found), min(found)
    return (Extreme(high[0], pack, high[1] // per_module, high[1] % per_module),
            Extreme(low[0], pack, low[1] // per_module, low[1] % per_module))


@dataclass
class PackView:
    name: str
    state_t: float | None = None  # the pack's time of its newest state
    limits_t: float | None = None
    state: str = "UNKNOWN"
    main_closed: bool = False  # both main contactors, as fed back
    voltage_v: float = math.nan
    current_a: float = 0.0
    soc_pct: float | None = None
    soe_kwh: float | None = None
    soh_pct: float | None = None
    capacity_ah: float | None = None
    resistance_ohm: float | None = None
    faults: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    charge_limit_a: float = 0.0
    discharge_limit_a: float = 0.0
    voltage_max_v: float | None = None
    voltage_min_v: float | None = None
    charge_fall_a_per_s: float = 0.0  # how fast each limit fell between its last two
    discharge_fall_a_per_s: float = 0.0
    online: bool | None = None  # its last will / birth message; None: not heard
    modules_online: int | None = None
    cell_voltage_mv: tuple[Extreme, Extreme] | None = None  # (highest, lowest)
    temperature_degc: tuple[Extreme, Extreme] | None = None
    bad_messages: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self.main_closed and self.state in CLOSED_STATES

    def age_s(self, now_s: float) -> float:
        """Since the pack's newest state (its time; inf: never)."""
        return math.inf if self.state_t is None else now_s - self.state_t

    def take(self, kind: str, data: dict[str, Any]) -> bool:
        """One message; False when it is not newer or cannot be read."""
        t = _number(data, "t")
        if t is None:
            self.bad_messages += 1
            return False
        if kind == "state":
            return self._take_state(t, data)
        if kind == "limits":
            return self._take_limits(t, data)
        if kind == "cells":
            return self._take_cells(data)
        if kind == "online":
            online = data.get("online")
            if isinstance(online, bool):
                self.online = online
                return True
        elif kind == "command/result":
            self.results = [*self.results[-19:], data]
            return True
        self.bad_messages += 1
        return False

    def _take_state(self, t: float, data: dict[str, Any]) -> bool:
        if self.state_t is not None and t <= self.state_t:
            return False  # a resend from the outbox, or older
        voltage, current = _number(data, "voltage_v"), _number(data, "current_a")
        contactors, state = data.get("contactors"), data.get("state")
        if voltage is None or current is None or not isinstance(contactors, dict) \
                or not isinstance(state, str):
            self.bad_messages += 1
            return False
        self.state_t, self.state = t, state
        self.main_closed = contactors.get("main_plus") is True and \
            contactors.get("main_minus") is True
        self.voltage_v, self.current_a = voltage, current
        self.soc_pct, self.soe_kwh = _number(data, "soc_pct"), _number(data, "soe_kwh")
        self.soh_pct, self.capacity_ah = _number(data, "soh_pct"), _number(data, "capacity_ah")
        resistance_mohm = _number(data, "resistance_mohm")
        self.resistance_ohm = None if resistance_mohm is None else resistance_mohm / 1000.0
        modules = data.get("modules_online")
        self.modules_online = modules if isinstance(modules, int) else None
        self.faults = tuple(str(f) for f in data.get("faults") or () if isinstance(f, str))
        self.warnings = tuple(str(w) for w in data.get("warnings") or () if isinstance(w, str))
        return True

    def _take_limits(self, t: float, data: dict[str, Any]) -> bool:
        if self.limits_t is not None and t <= self.limits_t:
            return False
        charge, discharge = _number(data, "charge_a"), _number(data, "discharge_a")
        if charge is None or discharge is None:
            self.bad_messages += 1
            return False
        charge, discharge = max(0.0, charge), max(0.0, discharge)
        charge_fall = discharge_fall = 0.0
        if self.limits_t is not None and t - self.limits_t <= FALL_WINDOW_S:
            dt_s = t - self.limits_t  # how fast each limit falls (0 when it does not)
            charge_fall = max(0.0, self.charge_limit_a - charge) / dt_s
            discharge_fall = max(0.0, self.discharge_limit_a - discharge) / dt_s
        self.charge_fall_a_per_s, self.discharge_fall_a_per_s = charge_fall, discharge_fall
        self.limits_t = t
        self.charge_limit_a, self.discharge_limit_a = charge, discharge
        self.voltage_max_v = _number(data, "voltage_max_v")
        self.voltage_min_v = _number(data, "voltage_min_v")
        return True

    def _take_cells(self, data: dict[str, Any]) -> bool:
        cells, sensors = data.get("cells_per_module"), data.get("sensors_per_module")
        voltages, temperatures = data.get("voltages_mv"), data.get("temperatures_degc")
        if not isinstance(cells, int) or not isinstance(voltages, list):
            self.bad_messages += 1
            return False
        self.cell_voltage_mv = extremes(voltages, cells, self.name)
        if isinstance(sensors, int) and isinstance(temperatures, list):
            self.temperature_degc = extremes(temperatures, sensors, self.name)
        return True
