"""All cores of a pack in one process on virtual time, exchanging encoded frames.

Every node hears every frame (its own too), exactly as on a multicast or vcan bus, so the
DBC and the E2E protection are exercised as in the real processes. Runs as fast as the CPU
allows; the same settings give the same frames, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, Codec
from master.core import MasterCore
from sim.current_sensor import CurrentSensorSim
from slave.afe.sim import SimAfe
from slave.core import SlaveCore


class Listener(Protocol):
    def on_frame(self, frame: CanFrame, now_s: float, /) -> None: ...


@dataclass(frozen=True, slots=True)
class WireFrame:
    time_s: float
    node: str  # DBC node of the sender
    frame: CanFrame


class LockstepPack:
    def __init__(self, settings: Settings, codec: Codec, start_s: float = 0.0) -> None:
        self.settings = settings
        self.codec = codec
        self.master = MasterCore(settings, codec, start_s)
        self.slaves = [
            SlaveCore(settings, m, SimAfe(settings, m, start_s), codec, start_s)
            for m in range(settings.pack.modules)
        ]
        self.sensor = CurrentSensorSim(settings, codec, start_s)
        self.step_s = min(settings.master.tick_period_s,
                          settings.sim.current_sensor.current_period_s)
        self._slave_schedule = Schedule(settings.slave.measurement_period_s, start_s)
        self.now_s = start_s
        self.listeners: list[Listener] = [self.master, self.sensor, *self.slaves]

    def step(self) -> list[WireFrame]:
        """Advance one step: every due node sends, then every node hears every frame."""
        now = self.now_s
        wire = [WireFrame(now, "Master", f) for f in self.master.tick(now)]
        wire += [WireFrame(now, "IVT_S", f) for f in self.sensor.tick(now)]
        if self._slave_schedule.due(now):
            for slave in self.slaves:
                wire += [WireFrame(now, "Slave", f) for f in slave.tick(now)]
        for item in wire:
            for node in self.listeners:
                node.on_frame(item.frame, now)
        self.now_s = round(now + self.step_s, 9)
        return wire

    def run(self, duration_s: float) -> Iterator[WireFrame]:
        end = self.now_s + duration_s
        while self.now_s < end - 1e-9:
            yield from self.step()
