"""Faults injected into one slave over the simulation bus (virtual packs only), from
outside the slave: around its AFE and on its wire. `slave/core.py` knows nothing of them.

Forced readings replace what the AFE measured for a cell or a sensor; a slave fault changes
what the slave sends (nothing, frozen readings, a corrupted CRC, a stuck alive counter, the
forced readings only in every other measurement, a replay of its readings with fresh noise)
or kills the process. Each lasts its duration, or until cleared.

`SlaveFaults` is what a virtual slave is given: ``afe(inner)`` wraps the AFE the slave
measures with, ``wire(frames, now)`` takes the frames it sends, ``on_sim_frame`` takes the
injection commands, and ``kill_requested`` tells the shell to die.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from dbc.codec import CanFrame, Codec, sim_codec
from dbc.endpoint import FrameReceiver
from dbc.frames import ModuleFault
from dbc.sim_frames import CellQuantity, InjectCell, InjectSlave, SlaveFault
from slave.afe.base import Afe, AfeMeasurement


def _until(now_s: float, duration_s: float) -> float:
    return math.inf if duration_s <= 0 else now_s + duration_s


class Injections:
    def __init__(self, module_id: int) -> None:
        self.module_id = module_id
        # cell or sensor: (forced value, None for an invalid reading; until)
        self.voltages_mv: dict[int, tuple[float | None, float]] = {}
        self.temperatures_degc: dict[int, tuple[float | None, float]] = {}
        self._fault = (SlaveFault.RESUME, math.inf)
        self._measurements = 0  # ALTERNATE: the forced readings go into the odd ones
        self._replayed: AfeMeasurement | None = None  # NOISY_REPLAY: what it repeats
        self._noise = random.Random(module_id)

    def apply_command(self, command: InjectCell | InjectSlave, now_s: float) -> bool:
        """Take a command if it is for this module; True when it was."""
        if command.module != self.module_id:
            return False
        if isinstance(command, InjectSlave):
            self._fault = (command.action, _until(now_s, command.duration_s))
        elif command.quantity is CellQuantity.VOLTAGE:
            self.voltages_mv[command.cell] = (command.value, _until(now_s, command.duration_s))
        elif command.quantity is CellQuantity.TEMPERATURE:
            self.temperatures_degc[command.cell] = (command.value,
                                                    _until(now_s, command.duration_s))
        elif command.quantity is CellQuantity.INVALID:
            self.voltages_mv[command.cell] = (None, _until(now_s, command.duration_s))
        else:
            self.voltages_mv.pop(command.cell, None)
            self.temperatures_degc.pop(command.cell, None)
        return True

    def fault(self, now_s: float) -> SlaveFault:
        action, until = self._fault
        if now_s >= until:
            self._fault = (SlaveFault.RESUME, math.inf)
            return SlaveFault.RESUME
        return action

    def apply(self, measurement: AfeMeasurement, now_s: float) -> AfeMeasurement:
        fault = self.fault(now_s)
        if fault is SlaveFault.AFE_FAULT:
            measurement = replace(measurement, faults=measurement.faults | ModuleFault.AFE_COMM)
        if fault is SlaveFault.NOISY_REPLAY:
            return self._replay(measurement)
        self._replayed = None
        self._measurements += 1
        if (not self.voltages_mv and not self.temperatures_degc) or \
                (fault is SlaveFault.ALTERNATE and self._measurements % 2 == 0):
            return measurement
        return replace(
            measurement,
            cell_voltages_mv=_forced(measurement.cell_voltages_mv, self.voltages_mv, now_s),
            temperatures_degc=_forced(measurement.temperatures_degc, self.temperatures_degc,
                                      now_s),
        )

    def _replay(self, measurement: AfeMeasurement) -> AfeMeasurement:
        """The readings of the moment the replay began, each cell with +-2 mV of fresh noise:
        not frozen, but deaf to the current."""
        if self._replayed is None:
            self._replayed = measurement
        uniform = self._noise.uniform
        return replace(self._replayed, cell_voltages_mv=tuple(
            None if v is None else v + uniform(-2.0, 2.0)
            for v in self._replayed.cell_voltages_mv))


def _forced(values: tuple[float | None, ...], forced: dict[int, tuple[float | None, float]],
            now_s: float) -> tuple[float | None, ...]:
    for index, (_, until) in list(forced.items()):
        if now_s >= until:
            del forced[index]
    return tuple(forced[i][0] if i in forced else v for i, v in enumerate(values))


class FaultyAfe:
    """An AFE with the injections applied to what it measures (forced readings, an AFE
    fault, frozen readings, a noisy replay)."""

    def __init__(self, inner: Afe, injections: Injections) -> None:
        self.inner = inner
        self.injections = injections
        self._last: AfeMeasurement | None = None
        # the simulated AFE carries the pack current: looked up once, called per frame
        self._set_current = getattr(inner, "set_pack_current", None)

    def measure(self, now_s: float) -> AfeMeasurement:
        injections = self.injections
        measurement = injections.apply(self.inner.measure(now_s), now_s)
        if injections.fault(now_s) is SlaveFault.FREEZE and self._last is not None:
            return self._last
        self._last = measurement
        return measurement

    def set_balancing(self, cells_mask: int) -> None:
        self.inner.set_balancing(cells_mask)

    def set_pack_current(self, current_a: float, now_s: float) -> None:
        if self._set_current is not None:
            self._set_current(current_a, now_s)

    def close(self) -> None:
        self.inner.close()


class SlaveFaults:
    """The injections of one virtual slave: its AFE wrapped, its frames changed."""

    def __init__(self, module_id: int, codec: Codec) -> None:
        self.module_id = module_id
        self.codec = codec
        self.injections = Injections(module_id)
        self.receiver = FrameReceiver(sim_codec(), 0, "Slave")
        # of the simulation bus only the injections: the load demands stay unheard
        self.wanted_sim_ids = sim_codec().ids_received_by("Slave")
        self.kill_requested = False

    def afe(self, inner: Afe) -> FaultyAfe:
        return FaultyAfe(inner, self.injections)

    def on_sim_frame(self, frame: CanFrame, now_s: float) -> None:
        reception = self.receiver.receive(frame)
        command = reception.frame if reception is not None else None
        if isinstance(command, (InjectCell, InjectSlave)):
            self.injections.apply_command(command, now_s)

    def wire(self, frames: list[CanFrame], now_s: float) -> list[CanFrame]:
        """What reaches the bus of the frames the slave sends this period."""
        fault = self.injections.fault(now_s)
        if fault is SlaveFault.KILL:
            self.kill_requested = True
            return []
        if fault is SlaveFault.STOP:
            return []
        if fault is SlaveFault.STUCK_COUNTER:
            return [self.codec.encode(self.codec.decode(f).frame, self.module_id, counter=0)
                    for f in frames]
        if fault is SlaveFault.BAD_CRC:
            return [CanFrame(f.arbitration_id, bytes([f.data[0] ^ 0xFF]) + f.data[1:],
                             f.is_extended_id) for f in frames]
        return frames
