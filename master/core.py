"""The master's pure core: every received frame in, pack state and frames to send out.

``on_frame(frame, now)`` checks (E2E, length, range through the codec) and stores;
``tick(now)`` ages the slave links and returns the heartbeat, balancing commands and status
pages that are due. Deterministic: the same frames at the same times give the same output.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, Codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import (
    BalancingCommand,
    CellTemperatures,
    CellVoltageExtremes,
    CellVoltages,
    Frame,
    MasterHeartbeat,
    MasterState,
    MasterSummary,
    ModulesLostMask,
    ModulesOnlineMask,
    ModulesStaleMask,
    ModuleStatus,
    PackAverages,
)
from dbc.ivt import IvtCurrent, IvtVoltage1
from master.pack_state import Extreme, PackState, PackSummary
from master.slave_registry import LinkChange, LinkState, SlaveRegistry

MA_PER_A = 1000.0
MV_PER_V = 1000.0


@dataclass
class MasterStatistics:
    frames_received: int = 0
    frames_ignored: int = 0  # decoded fine, but not for the master (unknown module, ...)
    link_changes: deque[LinkChange] = field(default_factory=lambda: deque(maxlen=1000))


@dataclass(frozen=True)
class SensorValue:
    value: float
    at_s: float


class MasterCore:
    def __init__(self, settings: Settings, codec: Codec, now_s: float) -> None:
        self.settings = settings
        self.modules = settings.pack.modules
        m = settings.master
        self.receiver = FrameReceiver(codec, m.e2e_max_lost_frames, "Master")
        self.sender = FrameSender(codec)
        self.registry = SlaveRegistry(self.modules, m.slave_stale_timeout_s,
                                      m.slave_lost_timeout_s, now_s)
        self.pack = PackState(self.modules, settings.pack.cells_per_module,
                              settings.pack.temperature_sensors_per_module)
        self.module_status: list[ModuleStatus | None] = [None] * self.modules
        self.pack_current_a: SensorValue | None = None
        self.pack_voltage_v: SensorValue | None = None
        self.state = MasterState.INIT
        self.statistics = MasterStatistics()
        self._heartbeat = Schedule(m.heartbeat_period_s, now_s)
        self._status = Schedule(m.status_period_s, now_s)
        self._balancing = Schedule(_cycle_s(codec, BalancingCommand), now_s)

    # --- input ----------------------------------------------------------------------------

    def on_frame(self, frame: CanFrame, now_s: float) -> None:
        self.statistics.frames_received += 1
        reception = self.receiver.receive(frame)
        if reception is None:
            return
        decoded = reception.frame
        if decoded is None:
            return  # rejected by E2E, counted by the receiver
        self._store(reception.module_id, decoded, now_s)

    def _store(self, module_id: int, decoded: Frame, now_s: float) -> None:
        if isinstance(decoded, (CellVoltages, CellTemperatures, ModuleStatus)):
            if module_id >= self.modules:
                self.statistics.frames_ignored += 1
                return
            change = self.registry.heard(module_id, now_s)
            if change:
                self.statistics.link_changes.append(change)
            if isinstance(decoded, CellVoltages):
                self.pack.cell_mv.update(module_id, decoded.first_cell, decoded.voltages_mv, now_s)
            elif isinstance(decoded, CellTemperatures):
                self.pack.temperature_degc.update(
                    module_id, decoded.first_sensor, decoded.temperatures_degc, now_s)
            else:
                self.module_status[module_id] = decoded
        elif isinstance(decoded, IvtCurrent):
            if decoded.valid:
                self.pack_current_a = SensorValue(decoded.current_ma / MA_PER_A, now_s)
        elif isinstance(decoded, IvtVoltage1):
            if decoded.valid:
                self.pack_voltage_v = SensorValue(decoded.voltage_mv / MV_PER_V, now_s)
        else:
            self.statistics.frames_ignored += 1  # our own frames, observers' frames

    # --- periodic -------------------------------------------------------------------------

    def tick(self, now_s: float) -> list[CanFrame]:
        self.statistics.link_changes.extend(self.registry.update(now_s))
        if self.state is MasterState.INIT and self.registry.all_online():
            self.state = MasterState.STANDBY
        out: list[CanFrame] = []
        if self._heartbeat.due(now_s):
            out.append(self.sender.encode(MasterHeartbeat(self.state, balancing_allowed=False)))
        if self._balancing.due(now_s):
            # No balancing planner yet: every slave is told explicitly not to bleed.
            out += [self.sender.encode(BalancingCommand(0, 0), m) for m in range(self.modules)]
        if self._status.due(now_s):
            out += [self.sender.encode(page) for page in self.status_pages(now_s)]
        return out

    def summary(self, now_s: float) -> PackSummary:
        m = self.settings.master
        return self.pack.summary(now_s, m.slave_stale_timeout_s, m.temperature_stale_timeout_s)

    def status_pages(self, now_s: float) -> list[Frame]:
        s = self.summary(now_s)
        low, high = s.min_cell_mv, s.max_cell_mv
        hot = s.max_temperature_degc
        e2e_errors = self.receiver.total_statistics().errors
        return [
            MasterSummary(
                self.state,
                self.registry.count(LinkState.ONLINE),
                self.registry.count(LinkState.STALE),
                self.registry.count(LinkState.LOST),
                s.sum_of_cells_v or 0.0,
                e2e_errors,
            ),
            CellVoltageExtremes(
                _int(low), low.module_id if low else 0, low.index if low else 0,
                _int(high), high.module_id if high else 0, high.index if high else 0,
            ),
            PackAverages(
                None if s.avg_cell_mv is None else round(s.avg_cell_mv),
                s.min_temperature_degc.value if s.min_temperature_degc else None,
                hot.value if hot else None,
                hot.module_id if hot else 0,
            ),
            ModulesOnlineMask(self.registry.mask(LinkState.ONLINE)),
            ModulesStaleMask(self.registry.mask(LinkState.STALE)),
            ModulesLostMask(self.registry.mask(LinkState.LOST)),
        ]


def _int(extreme: Extreme | None) -> int | None:
    return None if extreme is None else round(extreme.value)


def _cycle_s(codec: Codec, frame_type: type[Frame]) -> float:
    cycle = codec.layout_of(frame_type).cycle_time_s
    if cycle is None:
        raise ValueError(f"{frame_type.MESSAGE} has no GenMsgCycleTime")
    return cycle
