"""The pack as SunSpec point values, in engineering units (V, A, W, degC, %): what each
point of models 1, 802, 803 and 804 says, from the dashboard's live model of the pack
(web/model.py: the latest ``state``, ``cells``, ``limits`` and ``online`` payloads) and
its nameplate. Pure. A point the pack has no value for is absent (registers.py writes
SunSpec's "not implemented" value for it).

Conventions (docs/sunspec.md): one string (the pack); modules and cells counted from 1
(module 1 is the first module of the ``cells`` payload); current and power positive when
the pack discharges, as site controllers read model 802 (evcc's battery template reads
``802:W`` as its battery power, positive discharging). A topic older than the stale time,
or the pack offline: its values are unknown, COMMUNICATION_ERROR is set and the current
limits are 0 A (unknown must never read as "no limit").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbc.frames import MasterState
from sunspec.events import Events, events_of
from sunspec.nameplate import Nameplate
from web.model import PackLive

Value = float | int | str | None
Points = dict[str, Value]

MANUFACTURER = "pybms"
MODEL = "pybms distributed BMS"
LITHIUM_ION = 4  # 802 Typ: NMC and LFP alike (the enum knows no chemistry within lithium-ion)
HEARTBEAT_MODULO = 0xFFFF  # 0xFFFF itself is uint16's "not implemented"
W_PER_KW = 1000.0
MV_PER_V = 1000.0


class State:
    """802 ``State``."""

    DISCONNECTED = 1
    INITIALIZING = 2
    CONNECTED = 3
    STANDBY = 4
    FAULT = 99


class ChaSt:
    """802 ``ChaSt``."""

    OFF = 1
    EMPTY = 2
    DISCHARGING = 3
    CHARGING = 4
    FULL = 5
    HOLDING = 6


class SetOp:
    CONNECT = 1
    DISCONNECT = 2


STATES = {MasterState.INIT: State.INITIALIZING, MasterState.STANDBY: State.STANDBY,
          MasterState.PRECHARGE: State.INITIALIZING, MasterState.NORMAL: State.CONNECTED,
          MasterState.CHARGE: State.CONNECTED, MasterState.ERROR: State.FAULT}
# a limit of 0 set by one of these: the pack is full (charge) or empty (discharge)
END_LIMITERS = frozenset({"soc", "cell_voltage"})
STRING_ENABLED, CONTACTOR_STATUS = 1 << 0, 1 << 1  # 803 StrSt, 804 St
CONTACTOR_BITS = ("main_plus", "main_minus", "precharge")  # 803 StrConSt, 804 ConSt: bit i


@dataclass(frozen=True)
class Controls:
    """What the site controller may change, and what it wrote last (read back)."""

    enabled: bool = False
    ctrl_hb: int | None = None  # 802 CtrlHb
    inverter_state: int | None = None  # 802 SetInvState


@dataclass(frozen=True)
class Values:
    common: Points
    battery: Points
    bank: Points
    strings: list[Points]  # 803's repeating group: one string
    string: Points
    modules: list[Points] = field(default_factory=list)  # 804's repeating group


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _number(data: dict[str, Any] | None, key: str) -> float | None:
    return None if data is None else _finite(data.get(key))


def _numbers(data: dict[str, Any], key: str, count: int) -> list[float | None] | None:
    values = data.get(key)
    if not isinstance(values, list) or len(values) != count:
        return None
    return [_finite(v) for v in values]


def _extreme(values: Sequence[float | None], pick: Callable[..., Any]
             ) -> tuple[float, int] | None:
    """The largest (``max``) or smallest (``min``) value and its index (from 0)."""
    valid = [(v, i) for i, v in enumerate(values) if v is not None]
    return pick(valid, key=lambda vi: vi[0]) if valid else None


def _mean(values: Sequence[float | None]) -> float | None:
    valid = [v for v in values if v is not None]
    return sum(valid) / len(valid) if valid else None


@dataclass(frozen=True)
class Cells:
    """The ``cells`` payload, per module: cell voltages (V), temperatures, cell SOCs."""

    voltages_v: list[list[float | None]]
    temperatures_degc: list[list[float | None]]
    soc_pct: list[list[float | None]]
    balancing: int  # cells bleeding now

    @staticmethod
    def parse(data: dict[str, Any] | None, nameplate: Nameplate) -> Cells | None:
        """None unless the payload is of this pack's shape (module and cell counts)."""
        if data is None or data.get("modules") != nameplate.modules or \
                data.get("cells_per_module") != nameplate.cells_per_module:
            return None
        modules, per = nameplate.modules, nameplate.cells_per_module
        sensors = data.get("sensors_per_module")
        voltages = _numbers(data, "voltages_mv", modules * per)
        if voltages is None or not isinstance(sensors, int) or isinstance(sensors, bool):
            return None
        temperatures = _numbers(data, "temperatures_degc", modules * sensors) or \
            [None] * (modules * sensors)
        soc = _numbers(data, "soc_pct", modules * per) or [None] * (modules * per)
        masks = data.get("balancing_masks")
        bleeding = sum(bin(m).count("1") for m in masks if isinstance(m, int)) \
            if isinstance(masks, list) else 0

        def split(values: list[float | None], width: int) -> list[list[float | None]]:
            return [values[m * width:(m + 1) * width] for m in range(modules)]
        return Cells(split([None if v is None else v / MV_PER_V for v in voltages], per),
                     split(temperatures, sensors), split(soc, per), bleeding)


def _per_module(modules: list[list[float | None]], pick: Callable[..., Any]
                ) -> tuple[float, int] | None:
    width = len(modules[0]) if modules else 0
    found = _extreme([v for m in modules for v in m], pick)
    return None if found is None or width == 0 else (found[0], found[1] // width)


def _from_one(index: int | None) -> int | None:
    return None if index is None else index + 1


def _extremes(rows: list[list[float | None]] | None, prefix: str, string: bool = False
              ) -> Points:
    """``<prefix>Max``, ``<prefix>MaxMod`` (with ``string``: ``<prefix>MaxStr``), the same
    for ``Min``, and ``<prefix>Avg``, over ``rows`` (per module: cell voltages or
    temperature sensors)."""
    out: Points = {}
    for name, pick in (("Max", max), ("Min", min)):
        found = _per_module(rows, pick) if rows else None
        out[f"{prefix}{name}"] = found[0] if found else None
        out[f"{prefix}{name}Mod"] = _from_one(found[1]) if found else None
        if string:
            out[f"{prefix}{name}Str"] = 1 if found else None
    out[f"{prefix}Avg"] = _mean([v for m in rows for v in m]) if rows else None
    return out


@dataclass(frozen=True)
class Pack:
    """The latest payloads that are fresh (None: missing, stale or the pack offline)."""

    state: dict[str, Any] | None
    cells: Cells | None
    limits: dict[str, Any] | None
    offline: bool  # the master said so (its clean stop or its last will)
    heartbeat_t: float | None  # the latest state's time, fresh or not

    @staticmethod
    def of(live: PackLive | None, nameplate: Nameplate, ages_s: dict[str, float],
           stale_after_s: float) -> Pack:
        """``ages_s``: how long ago each topic last arrived."""
        latest = live.latest if live is not None else {}
        offline = latest.get("online", {}).get("online") is False

        def fresh(kind: str) -> dict[str, Any] | None:
            if offline or kind not in latest or ages_s.get(kind, math.inf) > stale_after_s:
                return None
            return latest[kind]
        return Pack(fresh("state"), Cells.parse(fresh("cells"), nameplate), fresh("limits"),
                    offline, _number(latest.get("state"), "t"))

    @property
    def fresh(self) -> bool:
        return self.state is not None

    @property
    def closed(self) -> bool | None:
        contactors = self.state.get("contactors") if self.state else None
        if not isinstance(contactors, dict):
            return None
        return contactors.get("main_plus") is True and contactors.get("main_minus") is True

    @property
    def master_state(self) -> MasterState | None:
        name = self.state.get("state") if self.state else None
        return MasterState.__members__.get(name) if isinstance(name, str) else None

    def entries(self, key: str) -> list[str]:
        values = self.state.get(key) if self.state else None
        return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def _charge_status(pack: Pack, idle_a: float) -> int | None:
    current = _number(pack.state, "current_a")
    if pack.closed is None or current is None:
        return None
    if not pack.closed:
        return ChaSt.OFF
    if current > idle_a:
        return ChaSt.CHARGING
    if current < -idle_a:
        return ChaSt.DISCHARGING
    limits = pack.limits or {}
    state = pack.state or {}
    if state.get("charge_phase") == "complete" or (
            _number(limits, "charge_a") == 0 and limits.get("charge_limiter") in END_LIMITERS):
        return ChaSt.FULL
    if _number(limits, "discharge_a") == 0 and limits.get("discharge_limiter") in END_LIMITERS:
        return ChaSt.EMPTY
    return ChaSt.HOLDING


def _bank_state(pack: Pack) -> int:
    if pack.offline:
        return State.DISCONNECTED  # a clean stop or a crash: the contactors open either way
    master = pack.master_state
    return State.FAULT if master is None else STATES[master]  # unknown: not to be used


def _negated(value: float | None) -> float | None:
    return None if value is None else -value


def point_values(live: PackLive | None, nameplate: Nameplate, controls: Controls,
                 unit_id: int, ages_s: dict[str, float], stale_after_s: float) -> Values:
    pack = Pack.of(live, nameplate, ages_s, stale_after_s)
    s, limits, cells = pack.state, pack.limits, pack.cells
    events: Events = events_of(pack.entries("faults"), pack.entries("warnings"),
                               communication_lost=not pack.fresh)
    closed = pack.closed
    master = pack.master_state
    current = _negated(_number(s, "current_a"))
    power_kw = _number(s, "power_kw")
    voltage = _number(s, "voltage_v")
    voltages = cells.voltages_v if cells else None
    temperatures = cells.temperatures_degc if cells else None
    contactors = s.get("contactors") if s else None
    contactor_bits = None if not isinstance(contactors, dict) else \
        sum(1 << i for i, name in enumerate(CONTACTOR_BITS) if contactors.get(name) is True)
    enabled = None if master is None else master is not MasterState.ERROR
    status = None if closed is None or enabled is None else \
        (STRING_ENABLED if enabled else 0) | (CONTACTOR_STATUS if closed else 0)
    heartbeat = None if pack.heartbeat_t is None else \
        int(pack.heartbeat_t) % HEARTBEAT_MODULO
    soc, soh = _number(s, "soc_pct"), _number(s, "soh_pct")
    balancing = cells.balancing if cells else None

    common: Points = {
        "Mn": MANUFACTURER, "Md": MODEL,
        "Opt": f"{nameplate.chemistry} {nameplate.modules}x{nameplate.cells_per_module}",
        "Vr": nameplate.version, "SN": nameplate.pack, "DA": unit_id}
    battery: Points = {
        "AHRtg": nameplate.capacity_ah, "WHRtg": nameplate.energy_wh,
        "WChaRteMax": nameplate.charge_w_max, "WDisChaRteMax": nameplate.discharge_w_max,
        "SoC": soc, "SoH": soh,
        "ChaSt": _charge_status(pack, nameplate.idle_a),
        "LocRemCtl": 0 if controls.enabled else 1,  # REMOTE, LOCAL
        "Hb": heartbeat, "CtrlHb": controls.ctrl_hb, "AlmRst": 0,
        "Typ": LITHIUM_ION, "State": _bank_state(pack),
        "StateVnd": None if master is None else int(master),
        "Evt1": events.evt1, "Evt2": 0,
        "EvtVnd1": events.vendor_faults, "EvtVnd2": events.vendor_warnings,
        "V": voltage, "VMax": _number(limits, "voltage_max_v"),
        "VMin": _number(limits, "voltage_min_v"),
        **_extremes(voltages, "CellV", string=True),
        "A": current,
        # unknown limits are 0 A: no current, never "no limit"
        "AChaMax": _number(limits, "charge_a") or 0.0,
        "ADisChaMax": _number(limits, "discharge_a") or 0.0,
        "W": None if power_kw is None else -power_kw * W_PER_KW,
        "ReqInvState": 0,  # NO REQUEST: the pack never asks the inverter to start or stop
        "SetOp": None if closed is None else SetOp.CONNECT if closed else SetOp.DISCONNECT,
        "SetInvState": controls.inverter_state,
    }
    bank: Points = {
        "NStr": 1, "NStrCon": None if closed is None else int(closed),
        **_extremes(temperatures, "ModTmp", string=True),
        "StrVMax": voltage, "StrVMaxStr": 1 if voltage is not None else None,
        "StrVMin": voltage, "StrVMinStr": 1 if voltage is not None else None,
        "StrVAvg": voltage,
        "StrAMax": current, "StrAMaxStr": 1 if current is not None else None,
        "StrAMin": current, "StrAMinStr": 1 if current is not None else None,
        "StrAAvg": current, "NCellBal": balancing,
    }
    string_events: Points = {"Evt1": events.evt1, "Evt2": 0, "EvtVnd1": events.vendor_faults,
                             "EvtVnd2": events.vendor_warnings}
    bank_string: Points = {
        "StrNMod": nameplate.modules, "StrSt": status,
        "StrConFail": int(events.con_fail) if pack.fresh else None,
        "StrSoC": soc, "StrSoH": soh, "StrA": current,
        **_extremes(voltages, "StrCellV"), **_extremes(temperatures, "StrModTmp"),
        "StrDisRsn": None if enabled is None else 0 if enabled else 1,  # NONE, FAULT
        "StrConSt": contactor_bits,
        **{f"Str{k}": v for k, v in string_events.items()},
        "Pad1": 0, "Pad2": 0,
    }
    string: Points = {
        "Idx": 1, "NMod": nameplate.modules, "St": status,
        "ConFail": bank_string["StrConFail"], "NCellBal": balancing,
        "SoC": soc, "SoH": soh, "A": current, "V": voltage,
        **_extremes(voltages, "CellV"), **_extremes(temperatures, "ModTmp"),
        "ConSt": contactor_bits, **string_events,
    }
    return Values(common, battery, bank, [bank_string], string,
                  [_module(cells, m, nameplate) for m in range(nameplate.modules)])


def _module(cells: Cells | None, module: int, nameplate: Nameplate) -> Points:
    """804's module group: the module's cells (cell numbers from 1); the temperature
    sensors are not cells, so no cell is named for the temperature extremes."""
    out: Points = {"ModNCell": nameplate.cells_per_module}
    if cells is None:
        return out
    voltages, temperatures = cells.voltages_v[module], cells.temperatures_degc[module]
    out["ModSoC"] = _mean(cells.soc_pct[module])
    for name, pick in (("Max", max), ("Min", min)):
        found = _extreme(voltages, pick)
        out[f"ModCellV{name}"] = found[0] if found else None
        out[f"ModCellV{name}Cell"] = _from_one(found[1]) if found else None
        sensor = _extreme(temperatures, pick)
        out[f"ModCellTmp{name}"] = sensor[0] if sensor else None
    out["ModCellVAvg"] = _mean(voltages)
    out["ModCellTmpAvg"] = _mean(temperatures)
    return out
