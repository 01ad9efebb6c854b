"""The simulated IVT-S current sensor: publishes current, voltages, power, charge and energy.

The current is what its owner (the HV box) says flows; U1 (battery voltage) is the sum of the
cell voltages the slaves publish, or, where its owner holds the cells (the lockstep harness),
the modules' true voltages. Each result message has its own 4-bit message counter. A
silenced sensor sends nothing; flags are set on every result while they are injected. The
configured sensor error (offset, gain) is in every current result, not in the physics.
"""

from __future__ import annotations

from typing import Final

from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, Codec, pack_codec
from dbc.endpoint import FrameReceiver
from dbc.frames import CellVoltages, Frame
from dbc.ivt import (
    IvtCharge,
    IvtCurrent,
    IvtEnergy,
    IvtFlag,
    IvtPower,
    IvtTemperature,
    IvtVoltage1,
    IvtVoltage2,
    IvtVoltage3,
)

MA_PER_A: Final = 1000
MV_PER_V: Final = 1000
SECONDS_PER_HOUR: Final = 3600.0
COUNTER_MODULO: Final = 16  # IVT-S message counter: 4 bits


class CurrentSensorSim:
    def __init__(self, settings: Settings, now_s: float, codec: Codec | None = None) -> None:
        sensor = settings.sim.current_sensor
        self.codec = codec or pack_codec()
        self.ambient_degc = settings.sim.cells.ambient_degc
        # it reads the cells as physics, not as a node of the contract
        self.receiver = FrameReceiver(self.codec, settings.master.e2e_max_lost_frames,
                                      "Observer")
        self._last_s = now_s
        self._current = Schedule(sensor.current_period_s, now_s)
        self._others = Schedule(sensor.other_results_period_s, now_s)
        self._counters: dict[str, int] = {}
        self._group_sums_mv: dict[tuple[int, int], float] = {}
        voltages = self.codec.layout_of(CellVoltages)
        # the pack's modules only: the sensor sits on this pack's string, and a node sending
        # on the id of a module the pack does not have is not in series with it
        self.voltage_ids = range(voltages.base_id, voltages.base_id + settings.pack.modules)
        self.offset_a = sensor.offset_a
        self.gain = 1.0 + sensor.gain_error_pct / 100.0
        self.current_a = 0.0  # the true current
        self.bus_voltage_v = 0.0  # U2: behind the contactors
        self.flags = IvtFlag.NONE
        self.silent = False
        self.voltage_offset_v = 0.0  # a sensor error on U1 (fault injection)
        self.charge_as = 0.0
        self.energy_wh = 0.0

    def battery_voltage_v(self) -> float:
        return sum(self._group_sums_mv.values()) / MV_PER_V

    def set_module_voltage(self, module_id: int, voltage_v: float) -> None:
        """A module's true voltage, from an owner that holds the cells: instead of hearing
        the module's CellVoltages frames, not beside them."""
        self._group_sums_mv[(module_id, 0)] = voltage_v * MV_PER_V

    def on_frame(self, frame: CanFrame, now_s: float) -> None:
        if frame.arbitration_id not in self.voltage_ids:
            return
        reception = self.receiver.receive(frame)
        if reception is not None and isinstance(reception.frame, CellVoltages):
            valid = [v for v in reception.frame.voltages_mv if v is not None]
            self._group_sums_mv[(reception.module_id, reception.frame.first_cell)] = sum(valid)

    def tick(self, now_s: float) -> list[CanFrame]:
        voltage_v = self.battery_voltage_v()
        dt_s = now_s - self._last_s
        self.charge_as += self.current_a * dt_s
        self.energy_wh += self.current_a * voltage_v * dt_s / SECONDS_PER_HOUR
        self._last_s = now_s
        current_due, others_due = self._current.due(now_s), self._others.due(now_s)
        if self.silent:
            return []
        flags = self.flags
        results: list[Frame] = []
        if current_due:
            measured_a = self.current_a * self.gain + self.offset_a
            results.append(IvtCurrent(self._count("I"), flags, round(measured_a * MA_PER_A)))
        if others_due:
            results += [
                IvtVoltage1(self._count("U1"), flags,
                            round((voltage_v + self.voltage_offset_v) * MV_PER_V)),
                IvtVoltage2(self._count("U2"), flags, round(self.bus_voltage_v * MV_PER_V)),
                IvtVoltage3(self._count("U3"), flags, 0),
                IvtTemperature(self._count("T"), flags, round(self.ambient_degc, 1)),
                IvtPower(self._count("W"), flags, round(self.current_a * voltage_v)),
                IvtCharge(self._count("As"), flags, round(self.charge_as)),
                IvtEnergy(self._count("Wh"), flags, round(self.energy_wh)),
            ]
        return [self.codec.encode(result) for result in results]

    def _count(self, quantity: str) -> int:
        counter = self._counters.get(quantity, 0)
        self._counters[quantity] = (counter + 1) % COUNTER_MODULO
        return counter
