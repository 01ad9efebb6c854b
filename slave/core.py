"""The slave's pure core: measure, encode, send; obey (and outlive) balancing commands.

`tick(now)` is called every measurement period and returns the frames to send; `on_frame`
takes every received frame. No I/O and no clock here: the shell passes ``now``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bms.rounding import round_half_even
from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, Codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import (
    AfeState,
    BalancingCommand,
    CellTemperatures,
    CellVoltages,
    Frame,
    MasterHeartbeat,
    MasterState,
    ModuleFault,
    ModuleStatus,
)
from dbc.ivt import IvtCurrent
from slave.afe.base import Afe, AfeMeasurement, PackCurrentListener
from slave.balancing import BalancingExecutor

MA_PER_A: Final = 1000.0
MV_PER_V: Final = 1000.0
# A tick later than this many periods counts as an overrun (reported in ModuleStatus).
OVERRUN_PERIODS: Final = 1.5


@dataclass
class SlaveStatistics:
    measurements: int = 0
    frames_sent: int = 0
    balancing_commands: int = 0
    overruns: int = 0
    frames_ignored: int = 0  # decoded, but nothing this slave handles
    afe_errors: int = 0
    last_heartbeat_s: float | None = None
    rejected: dict[str, int] = field(default_factory=dict)


class SlaveCore:
    def __init__(self, settings: Settings, module_id: int, afe: Afe, codec: Codec,
                 now_s: float) -> None:
        self.settings = settings
        self.module_id = module_id
        self.afe = afe
        self.sender = FrameSender(codec)
        self.receiver = FrameReceiver(codec, settings.master.e2e_max_lost_frames, "Slave")
        self.cells = settings.pack.cells_per_module
        self.sensors = settings.pack.temperature_sensors_per_module
        self.balancing = BalancingExecutor(self.cells, settings.slave.balancing_command_timeout_s,
                                           settings.balancing.max_cells_per_module)
        self.statistics = SlaveStatistics()
        self.afe_state = AfeState.INIT
        # checked once: a runtime Protocol check on every current frame is costly
        self._current_listener = afe if isinstance(afe, PackCurrentListener) else None
        self.master_state: MasterState | None = None
        self._period_s = settings.slave.measurement_period_s
        self._last_tick_s: float | None = None
        self._temperature_schedule = Schedule(settings.slave.temperature_period_s, now_s)
        self._status_schedule = Schedule(settings.slave.status_period_s, now_s)
        self._last: AfeMeasurement | None = None
        self._faults = ModuleFault.NONE
        # Only these ids matter to this slave; everything else is dropped before decoding.
        wanted = set(codec.ids_received_by("Slave", module_id))
        if not isinstance(afe, PackCurrentListener):  # only a simulated AFE needs the current
            wanted -= {codec.layout_of(IvtCurrent).base_id}
        self.wanted_ids = frozenset(wanted)
        self._voltage_groups = self._groups(codec, CellVoltages, self.cells)
        self._temperature_groups = self._groups(codec, CellTemperatures, self.sensors)
        voltage_layout = codec.layout_of(CellVoltages)
        self._voltage_range = voltage_layout.range_of(
            voltage_layout.indexed_signals(CellVoltages.PREFIX)[0])

    @staticmethod
    def _groups(codec: Codec, frame_type: type[CellVoltages] | type[CellTemperatures],
                count: int) -> list[tuple[int, int]]:
        """(first index, element count) of every multiplexed group this module fills."""
        layout = codec.layout_of(frame_type)
        groups = []
        for indices in layout.array_groups(frame_type.PREFIX).values():
            used = [i for i in indices if i < count]
            if used:
                groups.append((indices[0], len(used)))
        return groups

    def on_frame(self, frame: CanFrame, now_s: float) -> None:
        if frame.arbitration_id not in self.wanted_ids or frame.is_extended_id:
            return
        reception = self.receiver.receive(frame)
        if reception is None or reception.frame is None:
            name = reception.layout.name if reception else "undecodable"
            self.statistics.rejected[name] = self.statistics.rejected.get(name, 0) + 1
            return
        decoded = reception.frame
        if isinstance(decoded, BalancingCommand):
            self.statistics.balancing_commands += 1
            self.balancing.command(decoded.cells_mask, decoded.duration_s, now_s)
        elif isinstance(decoded, MasterHeartbeat):
            self.statistics.last_heartbeat_s = now_s
            self.master_state = decoded.state
        elif isinstance(decoded, IvtCurrent):
            if decoded.valid and self._current_listener is not None:
                self._current_listener.set_pack_current(decoded.current_ma / MA_PER_A, now_s)
        else:
            self.statistics.frames_ignored += 1

    def tick(self, now_s: float) -> list[CanFrame]:
        """One measurement period: measure, apply balancing, return the frames to send."""
        faults = ModuleFault.NONE
        late = self._last_tick_s is not None and \
            now_s - self._last_tick_s > OVERRUN_PERIODS * self._period_s
        if late:
            self.statistics.overruns += 1
            faults |= ModuleFault.MEASUREMENT_OVERRUN
        self._last_tick_s = now_s
        self.afe.set_balancing(self.balancing.active_mask(now_s))
        if self.balancing.stale(now_s):
            faults |= ModuleFault.BALANCING_COMMAND_STALE
        measurement = self.afe.measure(now_s)
        self.statistics.measurements += 1
        self._last = measurement
        limits = self._voltage_range
        if any(v is not None and not limits.minimum <= v <= limits.maximum
               for v in measurement.cell_voltages_mv):
            faults |= ModuleFault.MEASUREMENT_RANGE  # the frame carries the saturated value
        measured = measurement.faults  # mostly none: spare the flag arithmetic then
        self._faults = faults | measured if measured else faults
        afe_failed = measured and measured & ModuleFault.AFE_COMM
        self.afe_state = AfeState.FAULT if afe_failed else AfeState.MEASURING
        typed: list[Frame] = self._voltage_frames(measurement)
        if self._temperature_schedule.due(now_s):
            typed += self._temperature_frames(measurement)
        if self._status_schedule.due(now_s):
            typed.append(self.status(now_s))
        frames = [self.sender.encode(frame, self.module_id) for frame in typed]
        self.statistics.frames_sent += len(frames)
        return frames

    def status(self, now_s: float) -> ModuleStatus:
        voltages = self._last.cell_voltages_mv if self._last else ()
        valid = [v for v in voltages if v is not None]
        module_voltage_v = sum(valid) / MV_PER_V
        return ModuleStatus(self.afe_state, self.balancing.active_mask(now_s),
                            module_voltage_v, self._faults)

    def _voltage_frames(self, measurement: AfeMeasurement) -> list[Frame]:
        values = _rounded(measurement.cell_voltages_mv)
        return [CellVoltages(first, tuple(values[first:first + n]))
                for first, n in self._voltage_groups]

    def _temperature_frames(self, measurement: AfeMeasurement) -> list[Frame]:
        values = measurement.temperatures_degc
        return [CellTemperatures(first, tuple(values[first:first + n]))
                for first, n in self._temperature_groups]

    def shutdown(self) -> None:
        """Bleed resistors off; the AFE is released by its owner."""
        self.balancing.stop()
        self.afe.set_balancing(0)


def _rounded(values: Sequence[float | None]) -> list[int | None]:
    return [None if v is None or math.isnan(v) else round_half_even(v) for v in values]
