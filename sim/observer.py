"""An independent observer of the pack bus: what the live view, the headless summary and the
tests see. It checks E2E on its own (its counts are what reached *it*), keeps its own link
registry with the master's timeouts, and reads the master's verdicts from MasterStatus.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from bms.settings import Settings
from dbc.busload import frame_bits
from dbc.codec import CanFrame, pack_codec, vehicle_codec
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
from master.pack_state import MeasurementTable
from master.slave_registry import LinkState, SlaveRegistry

RATE_WINDOW_S = 1.0
MA_PER_A = 1000.0
MV_PER_V = 1000.0


@dataclass(frozen=True)
class ModuleView:
    module_id: int
    link: LinkState
    master_link: LinkState | None  # the master's verdict, from its status masks
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
        self.bms_status: BmsStatus | None = None
        self.vcu_request: VcuRequest | None = None
        self.vcu_request_at_s: float | None = None
        self.contactor_feedback: ContactorFeedback | None = None
        m = settings.master
        self.registry = SlaveRegistry(self.modules, m.slave_stale_timeout_s,
                                      m.slave_lost_timeout_s, now_s)
        self.cells = MeasurementTable(self.modules, settings.pack.cells_per_module)
        self.temperatures = MeasurementTable(self.modules,
                                             settings.pack.temperature_sensors_per_module)
        self.counters = [_ModuleCounters() for _ in range(self.modules)]
        self.by_message: Counter[str] = Counter()
        self.by_vehicle_message: Counter[str] = Counter()
        self.frames_total = 0
        self.master_state: MasterState | None = None
        self.master_summary: MasterSummary | None = None
        self.master_masks: dict[LinkState, int] = {}
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
            self.registry.heard(module_id, now_s)
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
            self.master_masks[LinkState.ONLINE] = decoded.mask
        elif isinstance(decoded, ModulesStaleMask):
            self.master_masks[LinkState.STALE] = decoded.mask
        elif isinstance(decoded, ModulesLostMask):
            self.master_masks[LinkState.LOST] = decoded.mask
        elif isinstance(decoded, IvtCurrent) and decoded.valid:
            self.current_a = decoded.current_ma / MA_PER_A
        elif isinstance(decoded, IvtVoltage1) and decoded.valid:
            self.sensor_voltage_v = decoded.voltage_mv / MV_PER_V
        elif isinstance(decoded, ContactorFeedback):
            self.contactor_feedback = decoded

    def on_vehicle_frame(self, frame: CanFrame, now_s: float) -> None:
        reception = self.vehicle_receiver.receive(frame)
        decoded = reception.frame if reception is not None else None
        if reception is not None:
            self.by_vehicle_message[reception.layout.name] += 1
        if isinstance(decoded, BmsStatus):
            self.bms_status = decoded
        elif isinstance(decoded, VcuRequest):
            self.vcu_request, self.vcu_request_at_s = decoded, now_s

    def master_link(self, module_id: int) -> LinkState | None:
        for state, mask in self.master_masks.items():
            if mask >> module_id & 1:
                return state
        return LinkState.WAITING if self.master_masks else None

    def view(self, now_s: float) -> PackView:
        self.registry.update(now_s)
        while self._window and self._window[0][0] < now_s - RATE_WINDOW_S:
            self._window_bits -= self._window.popleft()[1]
        window_s = min(RATE_WINDOW_S, max(now_s - self._start_s, 1e-3))
        max_age_s = self.settings.master.slave_stale_timeout_s
        fresh = self.cells.fresh(now_s, max_age_s)
        hot = self.temperatures.fresh(now_s, self.settings.master.temperature_stale_timeout_s)
        modules = []
        for m in range(self.modules):
            cells = [v for module, _, v in fresh if module == m]
            temps = [v for module, _, v in hot if module == m]
            e2e = self.receiver.statistics_of_module(m)
            status = self.counters[m].status
            modules.append(ModuleView(
                module_id=m,
                link=self.registry.links[m].state,
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
            sum_of_cells_v=(sum(v for _, _, v in fresh) / MV_PER_V
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
