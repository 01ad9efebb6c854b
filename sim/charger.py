"""The simulated Elcon/TC charger: the charger side of docs/PROTOCOLS.md section 5.

It follows the BMS's command (voltage and current ceilings, start/stop) with its own
limits: output power, output current, a ramp, and constant-voltage regulation on the HV
bus voltage it measures (the plant tells it, from the contactor box's feedback). Without a
command for ``command_timeout_s`` it stops and raises its communication-timeout flag; with
no battery on its output it raises battery-not-detected; ``bms inject charger`` sets any
flag, which stops the output as a real charger's fault would. Its status goes out every
second; the current it delivers goes to the HV box on the simulation bus.
"""

from __future__ import annotations

import math
from typing import Final

from bms.chemistry import series_cell
from bms.settings import Settings
from bms.timing import Schedule
from dbc.charger_frames import (
    COMMAND_ID,
    DBC_ADDRESS,
    ChargerFlag,
    ElconCommand,
    ElconStatus,
    command_id,
    readdress,
)
from dbc.codec import CanFrame, pack_codec, sim_codec, vehicle_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import ContactorFeedback
from dbc.sim_frames import ChargerOutput, InjectCharger
from sim.vcu import PeerOutputs

AUTO_GAIN: Final = 0.5  # of the pack's conductance: the voltage loop settles without ringing
BATTERY_PRESENT_V: Final = 10.0  # below this on its output the charger sees no battery
STOPPING = ChargerFlag.HARDWARE_FAILURE | ChargerFlag.OVER_TEMPERATURE | \
    ChargerFlag.INPUT_VOLTAGE_WRONG | ChargerFlag.BATTERY_NOT_DETECTED | \
    ChargerFlag.COMMUNICATION_TIMEOUT


class ChargerSim:
    def __init__(self, settings: Settings, now_s: float) -> None:
        self.settings = settings.sim.charger
        self.address = settings.endpoints.charger_address
        cell = series_cell(settings)
        pack_ohm = settings.pack.cells * (cell.r0_ohm + cell.r1_ohm)
        self.gain_a_per_v = self.settings.voltage_gain_a_per_v or AUTO_GAIN / pack_ohm
        self.receiver = FrameReceiver(vehicle_codec(), 0, "Charger")
        # a tap on the plant, not a pack-bus node: it listens as the observer does
        self.pack_receiver = FrameReceiver(pack_codec(), settings.master.e2e_max_lost_frames,
                                           "Observer")
        self.wanted_pack_ids = frozenset({pack_codec().layout_of(ContactorFeedback).base_id})
        self.sim_receiver = FrameReceiver(sim_codec(), 0, "Charger")
        self.sender = FrameSender(vehicle_codec())
        self.sim_sender = FrameSender(sim_codec())
        self.command: ElconCommand | None = None
        self.command_at_s: float | None = None
        self.started_s = now_s
        self.bus_voltage_v = 0.0
        self.current_a = 0.0
        self.injected = ChargerFlag.NONE
        self.injected_until_s = math.inf
        self.commands_received = 0
        self._output = Schedule(self.settings.output_period_s, now_s)
        self._status = Schedule(self.settings.status_period_s, now_s)

    def on_vehicle_frame(self, frame: CanFrame, now_s: float) -> None:
        if frame.arbitration_id != command_id(self.address):
            return  # another charger's, or not a charger frame
        frame = frame._replace(arbitration_id=COMMAND_ID)
        reception = self.receiver.receive(frame)
        if reception is not None and isinstance(reception.frame, ElconCommand):
            self.command, self.command_at_s = reception.frame, now_s
            self.commands_received += 1

    def on_pack_frame(self, frame: CanFrame, now_s: float) -> None:
        """The plant: what the charger's own output voltage measurement would read."""
        reception = self.pack_receiver.receive(frame)
        if reception is not None and isinstance(reception.frame, ContactorFeedback):
            self.bus_voltage_v = reception.frame.bus_voltage_v

    def on_sim_frame(self, frame: CanFrame, now_s: float) -> None:
        reception = self.sim_receiver.receive(frame)
        if reception is not None and isinstance(reception.frame, InjectCharger):
            self.injected = ChargerFlag(reception.frame.flags)
            self.injected_until_s = now_s + reception.frame.duration_s \
                if reception.frame.duration_s > 0 else math.inf

    def flags(self, now_s: float) -> ChargerFlag:
        flags = self.injected if now_s < self.injected_until_s else ChargerFlag.NONE
        last = self.command_at_s if self.command_at_s is not None else self.started_s
        if now_s - last > self.settings.command_timeout_s:
            flags |= ChargerFlag.COMMUNICATION_TIMEOUT
        if self.bus_voltage_v < BATTERY_PRESENT_V and self.command is not None and \
                self.command.start:
            flags |= ChargerFlag.BATTERY_NOT_DETECTED
        return flags

    def _regulate(self, dt_s: float, now_s: float) -> None:
        s = self.settings
        command = self.command
        if command is None or not command.start or self.flags(now_s) & STOPPING:
            self.current_a = 0.0
            return
        ceiling = min(command.max_current_a, s.max_current_a,
                      s.max_power_w / max(self.bus_voltage_v, BATTERY_PRESENT_V))
        # constant voltage: step the current by the voltage error, never above the ceiling
        wanted = self.current_a + self.gain_a_per_v * (command.max_voltage_v -
                                                       self.bus_voltage_v)
        wanted = min(max(wanted, 0.0), ceiling)
        step = s.ramp_a_per_s * dt_s
        self.current_a = min(max(wanted, self.current_a - step), self.current_a + step)

    def tick(self, now_s: float) -> PeerOutputs:
        """Vehicle-bus status and simulation-bus output (the VCU's output type)."""
        vehicle: list[CanFrame] = []
        sim: list[CanFrame] = []
        if self._output.due(now_s):
            self._regulate(self.settings.output_period_s, now_s)
            sim.append(self.sim_sender.encode(ChargerOutput(self.current_a)))
        if self._status.due(now_s):
            frame = self.sender.encode(ElconStatus(self.bus_voltage_v, self.current_a,
                                                   self.flags(now_s)))
            vehicle.append(frame._replace(arbitration_id=readdress(
                frame.arbitration_id, DBC_ADDRESS, self.address)))
        return PeerOutputs(vehicle, sim)
