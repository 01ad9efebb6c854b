"""The simulated IVT-S current sensor: publishes current, voltages, power, charge and energy,
and answers the commands that configure it.

The current is what its owner (the HV box) says flows; U1 (battery voltage) is the sum of the
cell voltages the slaves publish, or, where its owner holds the cells (the lockstep harness),
the modules' true voltages. Each result message has its own 4-bit message counter. A
silenced sensor sends nothing; flags are set on every result while they are injected. The
configured sensor error (offset, gain) is in every current result, not in the physics.

At power-up every result is cyclic (the current every ``current_period_s``, the others every
``other_results_period_s``) in the byte order ``byte_order``. The commands on 0x411 stop and
start it, set a result's trigger mode, period and byte order (refused while it runs, as the
sources configure a stopped sensor) and store; each is answered on 0x511 with what it now has
(docs/PROTOCOLS.md, IVT-S). ``commands`` leaves it deaf to them (mute) or answering with its
configuration unchanged (ignore), for the master's setup to fail on purpose.
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
    IvtCommandRefused,
    IvtCurrent,
    IvtEnergy,
    IvtFlag,
    IvtModeReply,
    IvtPower,
    IvtQuantity,
    IvtReply,
    IvtResultConfig,
    IvtResultConfigReply,
    IvtSetMode,
    IvtStore,
    IvtStoreReply,
    IvtTemperature,
    IvtTrigger,
    IvtVoltage1,
    IvtVoltage2,
    IvtVoltage3,
    echo_of,
)

MA_PER_A: Final = 1000
MV_PER_V: Final = 1000
MS_PER_S: Final = 1000
SECONDS_PER_HOUR: Final = 3600.0
COUNTER_MODULO: Final = 16  # IVT-S message counter: 4 bits
# the result messages in the sensor's order of result ids (IvtQuantity)
RESULT_TYPES: Final = (IvtCurrent, IvtVoltage1, IvtVoltage2, IvtVoltage3, IvtTemperature,
                       IvtPower, IvtCharge, IvtEnergy)
QUANTITIES: Final = tuple(IvtQuantity)


class ResultMode:
    """How the sensor sends one result (what a result configuration sets)."""

    def __init__(self, trigger: IvtTrigger, period_s: float, little_endian: bool) -> None:
        self.trigger = trigger
        self.period_s = period_s
        self.little_endian = little_endian
        self.sign_inverted = False  # kept and echoed; the simulated values are not inverted

    def schedule(self, now_s: float) -> Schedule | None:
        if self.trigger is not IvtTrigger.CYCLIC:
            return None  # off, or sent on a trigger command (not simulated)
        return Schedule(self.period_s, now_s)

    def echo(self, quantity: IvtQuantity) -> IvtResultConfigReply:
        return IvtResultConfigReply(quantity, self.trigger, round(self.period_s * MS_PER_S),
                                    self.little_endian, self.sign_inverted)


class CurrentSensorSim:
    def __init__(self, settings: Settings, now_s: float, codec: Codec | None = None) -> None:
        sensor = settings.sim.current_sensor
        self.codec = codec or pack_codec()
        self.ambient_degc = settings.sim.cells.ambient_degc
        # it reads the cells as physics, not as a node of the contract
        self.receiver = FrameReceiver(self.codec, settings.master.e2e_max_lost_frames,
                                      "Observer")
        # and its commands as the IVT-S it is
        self.command_receiver = FrameReceiver(self.codec, 0, "IVT_S")
        self.command_id = self.codec.layout_of(IvtResultConfig).base_id
        self.commands = sensor.commands  # obey, mute, ignore
        self._last_s = now_s
        little = sensor.byte_order == "little"
        self.modes = [ResultMode(IvtTrigger.CYCLIC, period_s, little)
                      for period_s in (sensor.current_period_s,
                                       *[sensor.other_results_period_s] * 7)]
        self._schedules = [mode.schedule(now_s) for mode in self.modes]
        # where each result's value lies in its payload: a little-endian one reverses it
        self._value_spans = [self.codec.layout_of(t).byte_span(f"IVT_Result_{t.QUANTITY}")
                             for t in RESULT_TYPES]
        self.running = True
        self.run_at_startup = True
        self.stored = 0  # times the configuration was stored
        self._replies: list[IvtReply] = []
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

    # --- configuration ----------------------------------------------------------------------

    def on_command(self, frame: CanFrame, now_s: float) -> None:
        """A command on 0x411: applied and answered (at the next tick), as ``commands`` says."""
        reception = self.command_receiver.receive(frame)
        command = reception.frame if reception is not None else None
        if command is None or self.commands == "mute":
            return
        if self.commands == "ignore":
            reply = self._as_it_is(command)
        elif isinstance(command, IvtResultConfig):
            reply = self._configure(command)
        elif isinstance(command, IvtSetMode):
            if command.run and not self.running:
                self._schedules = [mode.schedule(now_s) for mode in self.modes]
            self.running, self.run_at_startup = command.run, command.run_at_startup
            reply = echo_of(command)
        elif isinstance(command, IvtStore):
            self.stored += 1
            reply = echo_of(command)
        else:
            return
        self._replies.append(reply)

    def _configure(self, command: IvtResultConfig) -> IvtReply:
        if self.running or (command.trigger is IvtTrigger.CYCLIC and command.period_ms <= 0):
            layout = self.codec.layout_of(IvtResultConfig)
            return IvtCommandRefused(command.command_id(layout))
        mode = self.modes[QUANTITIES.index(command.quantity)]
        mode.trigger, mode.period_s = command.trigger, command.period_ms / MS_PER_S
        mode.little_endian, mode.sign_inverted = command.little_endian, command.sign_inverted
        return echo_of(command)

    def _as_it_is(self, command: Frame) -> IvtReply:
        """The reply of a sensor that takes no configuration: what it has."""
        if isinstance(command, IvtResultConfig):
            return self.modes[QUANTITIES.index(command.quantity)].echo(command.quantity)
        if isinstance(command, IvtSetMode):
            return IvtModeReply(self.running, self.run_at_startup)
        return IvtStoreReply()

    # --- results ----------------------------------------------------------------------------

    def tick(self, now_s: float) -> list[CanFrame]:
        voltage_v = self.battery_voltage_v()
        dt_s = now_s - self._last_s
        self.charge_as += self.current_a * dt_s
        self.energy_wh += self.current_a * voltage_v * dt_s / SECONDS_PER_HOUR
        self._last_s = now_s
        # every schedule moves on, whether the sensor is heard or not
        due = [schedule is not None and schedule.due(now_s) for schedule in self._schedules]
        if self.silent:
            self._replies.clear()
            return []
        frames = [self.codec.encode(reply) for reply in self._replies]
        self._replies.clear()
        if not self.running:
            return frames
        flags = self.flags
        results: list[tuple[int, Frame]] = []
        if due[0]:
            measured_a = self.current_a * self.gain + self.offset_a
            results.append((0, IvtCurrent(self._count("I"), flags,
                                          round(measured_a * MA_PER_A))))
        if due[1]:
            results.append((1, IvtVoltage1(self._count("U1"), flags,
                                           round((voltage_v + self.voltage_offset_v) * MV_PER_V))))
        if due[2]:
            results.append((2, IvtVoltage2(self._count("U2"), flags,
                                           round(self.bus_voltage_v * MV_PER_V))))
        if due[3]:
            results.append((3, IvtVoltage3(self._count("U3"), flags, 0)))
        if due[4]:
            results.append((4, IvtTemperature(self._count("T"), flags,
                                              round(self.ambient_degc, 1))))
        if due[5]:
            results.append((5, IvtPower(self._count("W"), flags,
                                        round(self.current_a * voltage_v))))
        if due[6]:
            results.append((6, IvtCharge(self._count("As"), flags, round(self.charge_as))))
        if due[7]:
            results.append((7, IvtEnergy(self._count("Wh"), flags, round(self.energy_wh))))
        for index, result in results:
            frame = self.codec.encode(result)
            if self.modes[index].little_endian:
                frame = _reversed(frame, self._value_spans[index])
            frames.append(frame)
        return frames

    def _count(self, quantity: str) -> int:
        counter = self._counters.get(quantity, 0)
        self._counters[quantity] = (counter + 1) % COUNTER_MODULO
        return counter


def _reversed(frame: CanFrame, span: tuple[int, int]) -> CanFrame:
    """The frame with the bytes of ``span`` (a value) in the other byte order."""
    start, stop = span
    data = frame.data
    return CanFrame(frame.arbitration_id, data[:start] + data[start:stop][::-1] + data[stop:],
                    frame.is_extended_id)
