"""An independent observer of the pack bus: what the live view, the headless summary and the
tests see. It checks E2E on its own (its counts are what reached *it*), keeps its own link
registry with the master's timeouts, and reads the master's verdicts from MasterStatus.
"""

from __future__ import annotations

import enum
import math
from collections import Counter, deque
from dataclasses import dataclass, field

from bms.settings import Settings, inverter_bus
from dbc.busload import frame_bits
from dbc.codec import CanFrame, inverter_codec, pack_codec, vehicle_codec
from dbc.endpoint import FrameReceiver
from dbc.frames import (
    CellTemperatures,
    CellVoltages,
    ContactorFeedback,
    MasterHeartbeat,
    MasterState,
    MasterSummary,
    ModulesLostMask,
    ModulesOnlineMask,
    ModulesStaleMask,
    ModuleStatus,
)
from dbc.ivt import IvtCurrent, IvtVoltage1
from dbc.vehicle_frames import BmsStatus, VcuRequest


class Link(enum.Enum):
    """A module's link as the observer sees it (its own verdict, not the master's)."""

    WAITING = "waiting"  # never heard
    ONLINE = "online"
    STALE = "stale"  # no frame within the master's stale timeout
    LOST = "lost"  # none within its lost timeout


class _Readings:
    """The latest value of each cell or sensor of each module, with its time."""

    def __init__(self, modules: int, per_module: int) -> None:
        self.values: list[list[float | None]] = [[None] * per_module for _ in range(modules)]
        self.times_s = [[-math.inf] * per_module for _ in range(modules)]

    def update(self, module: int, first: int, values: tuple[float | None, ...],
               now_s: float) -> None:
        row, times = self.values[module], self.times_s[module]
        for index, value in enumerate(values[:max(0, len(row) - first)]):
            row[first + index], times[first + index] = value, now_s

    def fresh(self, module: int, now_s: float, max_age_s: float) -> list[float]:
        return [v for v, t in zip(self.values[module], self.times_s[module], strict=True)
                if v is not None and now_s - t <= max_age_s]


RATE_WINDOW_S = 1.0
MA_PER_A = 1000.0
MV_PER_V = 1000.0


@dataclass(frozen=True)
class ModuleView:
    module_id: int
    link: Link
    master_link: Link | None  # the master's verdict, from its status masks
    frames: int
    e2e_errors: int
    e2e_lost_frames: int
    min_cell_mv: float | None
    max_cell_mv: float | None
    avg_cell_mv: float | None
    max_temperature_degc: float | None
    cells_seen: int
    balancing_mask: int
    faults: int


@dataclass(frozen=True)
class PackView:
    elapsed_s: float
    modules: tuple[ModuleView, ...]
    sum_of_cells_v: float | None
    sensor_voltage_v: float | None
    current_a: float | None
    master_state: MasterState | None
    master_summary: MasterSummary | None
    frames_per_s: float
    bus_load: float  # worst-case fraction of the bitrate, over the last second
    frames_total: int
    unknown_frames: int
    bms_status: BmsStatus | None = None
    vcu_request: VcuRequest | None = None
    bus_voltage_v: float | None = None


@dataclass
class _ModuleCounters:
    frames: int = 0
    status: ModuleStatus | None = None
    cells_seen: set[int] = field(default_factory=set)


class PackObserver:
    def __init__(self, settings: Settings, now_s: float) -> None:
        self.settings = settings
        self.modules = settings.pack.modules
        self.bitrate = int(settings.bus.pack.get("bitrate", 500_000))
        self.receiver = FrameReceiver(pack_codec(), settings.master.e2e_max_lost_frames,
                                      "Observer")
        self.vehicle_receiver = FrameReceiver(vehicle_codec(),
                                              settings.master.e2e_max_lost_frames, "Observer")
        # the inverter's bus, its protocol's codec; its ids routed from the vehicle bus when
        # the inverter shares it
        protocol = settings.endpoints.inverter
        self.inverter_receiver = FrameReceiver(
            inverter_codec(protocol), settings.master.e2e_max_lost_frames, "Observer") \
            if protocol != "none" else None
        self._inverter_ids = frozenset(
            (layout.base_id, layout.is_extended_id)
            for layout in self.inverter_receiver.codec.layouts.values()) \
            if self.inverter_receiver is not None and inverter_bus(settings) == "vehicle" \
            else frozenset()
        self.by_inverter_message: Counter[str] = Counter()
        self.bms_status: BmsStatus | None = None
        self.vcu_request: VcuRequest | None = None
        self.vcu_request_at_s: float | None = None
        self.contactor_feedback: ContactorFeedback | None = None
        self.heard_s: list[float | None] = [None] * self.modules  # the last module frame
        self.cells = _Readings(self.modules, settings.pack.cells_per_module)
        self.temperatures = _Readings(self.modules,
                                      settings.pack.temperature_sensors_per_module)
        self.counters = [_ModuleCounters() for _ in range(self.modules)]
        self.by_message: Counter[str] = Counter()
        self.by_vehicle_message: Counter[str] = Counter()
        self.frames_total = 0
        self.master_state: MasterState | None = None
        self.master_summary: MasterSummary | None = None
        self.master_masks: dict[Link, int] = {}
        self.current_a: float | None = None
        self.sensor_voltage_v: float | None = None
        self._start_s = now_s
        self._window: deque[tuple[float, int]] = deque()
        self._window_bits = 0

    def on_frame(self, frame: CanFrame, now_s: float) -> None:
        self.frames_total += 1
        bits = frame_bits(min(len(frame.data), 8), frame.is_extended_id)
        self._window.append((now_s, bits))
        self._window_bits += bits
        reception = self.receiver.receive(frame)
        if reception is None:
            return
        self.by_message[reception.layout.name] += 1
        module_id, decoded = reception.module_id, reception.frame
        is_module_frame = isinstance(decoded, (CellVoltages, CellTemperatures, ModuleStatus))
        if is_module_frame and module_id < self.modules:
            self.counters[module_id].frames += 1
            self.heard_s[module_id] = now_s
        if isinstance(decoded, CellVoltages) and module_id < self.modules:
            self.cells.update(module_id, decoded.first_cell, decoded.voltages_mv, now_s)
            self.counters[module_id].cells_seen.update(
                decoded.first_cell + i for i, v in enumerate(decoded.voltages_mv) if v is not None)
        elif isinstance(decoded, CellTemperatures) and module_id < self.modules:
            self.temperatures.update(module_id, decoded.first_sensor, decoded.temperatures_degc,
                                     now_s)
        elif isinstance(decoded, ModuleStatus) and module_id < self.modules:
            self.counters[module_id].status = decoded
        elif isinstance(decoded, MasterHeartbeat):
            self.master_state = decoded.state
        elif isinstance(decoded, MasterSummary):
            self.master_summary = decoded
            self.master_state = decoded.state
        elif isinstance(decoded, ModulesOnlineMask):
            self.master_masks[Link.ONLINE] = decoded.mask
        elif isinstance(decoded, ModulesStaleMask):
            self.master_masks[Link.STALE] = decoded.mask
        elif isinstance(decoded, ModulesLostMask):
            self.master_masks[Link.LOST] = decoded.mask
        elif isinstance(decoded, IvtCurrent) and decoded.valid:
            self.current_a = decoded.current_ma / MA_PER_A
        elif isinstance(decoded, IvtVoltage1) and decoded.valid:
            self.sensor_voltage_v = decoded.voltage_mv / MV_PER_V
        elif isinstance(decoded, ContactorFeedback):
            self.contactor_feedback = decoded

    def on_vehicle_frame(self, frame: CanFrame, now_s: float) -> None:
        if self._inverter_ids and (frame.arbitration_id, frame.is_extended_id) in \
                self._inverter_ids:
            self.on_inverter_frame(frame, now_s)
            return
        reception = self.vehicle_receiver.receive(frame)
        decoded = reception.frame if reception is not None else None
        if reception is not None:
            self.by_vehicle_message[reception.layout.name] += 1
        if isinstance(decoded, BmsStatus):
            self.bms_status = decoded
        elif isinstance(decoded, VcuRequest):
            self.vcu_request, self.vcu_request_at_s = decoded, now_s

    def on_inverter_frame(self, frame: CanFrame, now_s: float) -> None:
        receiver = self.inverter_receiver
        reception = receiver.receive(frame) if receiver is not None else None
        if reception is not None and reception.frame is not None:
            self.by_inverter_message[reception.layout.name] += 1

    def unheard(self) -> list[str]:
        """The parts of the plant the master needs and this observer has not heard yet."""
        missing = [f"module {m}" for m, heard in enumerate(self.heard_s) if heard is None]
        if self.current_a is None:
            missing.append("the current sensor")
        if self.contactor_feedback is None:
            missing.append("the contactor box")
        if self.settings.endpoints.vcu and self.vcu_request is None:
            missing.append("the VCU")
        return missing

    def master_link(self, module_id: int) -> Link | None:
        for state, mask in self.master_masks.items():
            if mask >> module_id & 1:
                return state
        return Link.WAITING if self.master_masks else None

    def link(self, module_id: int, now_s: float) -> Link:
        heard_s = self.heard_s[module_id]
        if heard_s is None:
            return Link.WAITING
        m = self.settings.master
        age_s = now_s - heard_s
        return Link.LOST if age_s > m.slave_lost_timeout_s else \
            Link.STALE if age_s > m.slave_stale_timeout_s else Link.ONLINE

    def view(self, now_s: float) -> PackView:
        while self._window and self._window[0][0] < now_s - RATE_WINDOW_S:
            self._window_bits -= self._window.popleft()[1]
        window_s = min(RATE_WINDOW_S, max(now_s - self._start_s, 1e-3))
        max_age_s = self.settings.master.slave_stale_timeout_s
        temperature_age_s = self.settings.master.temperature_stale_timeout_s
        modules = []
        fresh: list[float] = []
        for m in range(self.modules):
            cells = self.cells.fresh(m, now_s, max_age_s)
            temps = self.temperatures.fresh(m, now_s, temperature_age_s)
            fresh += cells
            e2e = self.receiver.statistics_of_module(m)
            status = self.counters[m].status
            modules.append(ModuleView(
                module_id=m,
                link=self.link(m, now_s),
                master_link=self.master_link(m),
                frames=self.counters[m].frames,
                e2e_errors=e2e.errors,
                e2e_lost_frames=e2e.lost_frames,
                min_cell_mv=min(cells, default=None),
                max_cell_mv=max(cells, default=None),
                avg_cell_mv=sum(cells) / len(cells) if cells else None,
                max_temperature_degc=max(temps, default=None),
                cells_seen=len(self.counters[m].cells_seen),
                balancing_mask=status.balancing_mask if status else 0,
                faults=int(status.faults) if status else 0,
            ))
        expected = self.modules * self.settings.pack.cells_per_module
        return PackView(
            elapsed_s=now_s - self._start_s,
            modules=tuple(modules),
            sum_of_cells_v=(sum(fresh) / MV_PER_V
                            if len(fresh) == expected else None),
            sensor_voltage_v=self.sensor_voltage_v,
            current_a=self.current_a,
            master_state=self.master_state,
            master_summary=self.master_summary,
            frames_per_s=len(self._window) / window_s,
            bus_load=self._window_bits / window_s / self.bitrate,
            frames_total=self.frames_total,
            unknown_frames=sum(self.receiver.failures.values()),
            bms_status=self.bms_status,
            vcu_request=self.vcu_request,
            bus_voltage_v=self.contactor_feedback.bus_voltage_v
            if self.contactor_feedback else None,
        )
