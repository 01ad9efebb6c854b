"""The simulated IVT-S current sensor: publishes current, voltage, power, charge and energy.

U1 (pack voltage) is the sum of the cell voltages the slaves publish; the current follows the
configured profile. Each result message has its own 4-bit message counter.
"""

from __future__ import annotations

from bms.settings import Settings
from bms.timing import Schedule
from dbc.codec import CanFrame, Codec
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
from sim.current_profile import CurrentProfile

MA_PER_A = 1000
MV_PER_V = 1000
SECONDS_PER_HOUR = 3600.0
COUNTER_MODULO = 16  # IVT-S message counter: 4 bits


class CurrentSensorSim:
    def __init__(self, settings: Settings, codec: Codec, now_s: float) -> None:
        sensor = settings.sim.current_sensor
        self.codec = codec
        self.profile = CurrentProfile(sensor.profile)
        self.ambient_degc = settings.sim.cells.ambient_degc
        self.receiver = FrameReceiver(
            codec, settings.master.e2e_max_lost_frames, "Observer")  # reads the cells as physics
        self._start_s = now_s
        self._last_s = now_s
        self._current = Schedule(sensor.current_period_s, now_s)
        self._others = Schedule(sensor.other_results_period_s, now_s)
        self._counters: dict[str, int] = {}
        self._group_sums_mv: dict[tuple[int, int], float] = {}
        voltages = codec.layout_of(CellVoltages)
        self._voltage_ids = range(voltages.base_id, voltages.base_id + voltages.module_id_range)
        self.charge_as = 0.0
        self.energy_wh = 0.0

    def current_a(self, now_s: float) -> float:
        return self.profile.current_a(now_s - self._start_s)

    def pack_voltage_v(self) -> float:
        return sum(self._group_sums_mv.values()) / MV_PER_V

    def on_frame(self, frame: CanFrame, now_s: float) -> None:
        if frame.arbitration_id not in self._voltage_ids:
            return
        reception = self.receiver.receive(frame)
        if reception is not None and isinstance(reception.frame, CellVoltages):
            valid = [v for v in reception.frame.voltages_mv if v is not None]
            self._group_sums_mv[(reception.module_id, reception.frame.first_cell)] = sum(valid)

    def tick(self, now_s: float) -> list[CanFrame]:
        current_a = self.current_a(self._last_s)
        voltage_v = self.pack_voltage_v()
        dt_s = now_s - self._last_s
        self.charge_as += current_a * dt_s
        self.energy_wh += current_a * voltage_v * dt_s / SECONDS_PER_HOUR
        self._last_s = now_s
        current_a = self.current_a(now_s)
        results: list[Frame] = []
        if self._current.due(now_s):
            results.append(IvtCurrent(self._count("I"), IvtFlag.NONE, round(current_a * MA_PER_A)))
        if self._others.due(now_s):
            voltage_mv = round(voltage_v * MV_PER_V)
            results += [
                IvtVoltage1(self._count("U1"), IvtFlag.NONE, voltage_mv),
                IvtVoltage2(self._count("U2"), IvtFlag.NONE, voltage_mv),
                IvtVoltage3(self._count("U3"), IvtFlag.NONE, 0),
                IvtTemperature(self._count("T"), IvtFlag.NONE, round(self.ambient_degc, 1)),
                IvtPower(self._count("W"), IvtFlag.NONE, round(current_a * voltage_v)),
                IvtCharge(self._count("As"), IvtFlag.NONE, round(self.charge_as)),
                IvtEnergy(self._count("Wh"), IvtFlag.NONE, round(self.energy_wh)),
            ]
        return [self.codec.encode(result) for result in results]

    def _count(self, quantity: str) -> int:
        counter = self._counters.get(quantity, 0)
        self._counters[quantity] = (counter + 1) % COUNTER_MODULO
        return counter
