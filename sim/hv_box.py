"""The simulated HV box: main plus, main minus, precharge relay and resistor, DC-link
capacitor, pack fuse, auxiliary feedback contacts, and the IVT-S current sensor inside it.

It obeys ContactorCommand (everything opens when commands stop), reports
ContactorFeedback, and decides the pack current from the circuit: zero while open, the
precharge current into the DC link, the load's demand once closed. Its sensor hears the
commands that configure it. Faults are injected on the simulation bus. Pure: ``tick(now)``
advances the physics.

On a site's shared DC bus (`join_shared_bus`, sim/site_plant.py) the bus decides instead:
the box reports how it connects its pack (`branch_mode`) and takes its current and the
DC-link voltage from the bus (`take_bus`) before each tick; its own demands and current
injections then count for nothing. The sensor, the feedback and the fuse work as alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from bms.settings import Settings
from bms.timing import Schedule
from dbc import contactor_auth
from dbc.codec import CanFrame, pack_codec, sim_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.frames import ContactorCommand, ContactorFeedback, Contactors
from dbc.ivt import IvtFlag
from dbc.sim_frames import (
    ChargerOutput,
    ContactorFault,
    ContactorId,
    InjectContactor,
    InjectCurrent,
    InjectSensor,
    InverterOutput,
    LoadDemand,
    SensorFault,
)
from sim.current_sensor import CurrentSensorSim
from sim.dc_bus import BranchMode

UF_PER_F: Final = 1e6
SENSOR_FLAGS = {
    SensorFault.FLAG_OVER_CURRENT: IvtFlag.OVER_CURRENT,
    SensorFault.FLAG_CHANNEL_ERROR: IvtFlag.CHANNEL_ERROR,
    SensorFault.FLAG_SYSTEM_ERROR: IvtFlag.SYSTEM_ERROR,
}


def _until(now_s: float, duration_s: float) -> float:
    return math.inf if duration_s <= 0 else now_s + duration_s


@dataclass
class Relay:
    commanded: bool = False
    closed: bool = False
    settles_at_s: float = 0.0
    fault: ContactorFault = ContactorFault.NONE
    fault_until_s: float = math.inf

    def command(self, close: bool, now_s: float, close_time_s: float,
                open_time_s: float) -> None:
        if close != self.commanded:
            self.commanded = close
            self.settles_at_s = now_s + (close_time_s if close else open_time_s)

    def update(self, now_s: float) -> None:
        if self.fault is not ContactorFault.NONE and now_s >= self.fault_until_s:
            self.fault = ContactorFault.NONE
        if now_s < self.settles_at_s:
            return
        if self.fault is ContactorFault.FAILS_TO_CLOSE:
            self.closed = False
        elif self.fault is ContactorFault.WELDED:
            self.closed = self.closed or self.commanded
        else:
            self.closed = self.commanded


class HvBox:
    def __init__(self, settings: Settings, now_s: float) -> None:
        self.settings = settings
        self.box = settings.sim.hv_box
        self.sensor = CurrentSensorSim(settings, now_s)
        self.receiver = FrameReceiver(pack_codec(), settings.master.e2e_max_lost_frames,
                                      "ContactorBox")
        self.sim_receiver = FrameReceiver(sim_codec(), 0, "HvBox")
        self.sender = FrameSender(pack_codec())
        # what the box and its sensor read of the pack bus (a receive filter, as a sensor's
        # CAN controller has one): the commands (the box's and the sensor's), and the cell
        # voltages for U1
        self.wanted_ids = frozenset(
            {pack_codec().layout_of(ContactorCommand).base_id, self.sensor.command_id,
             *self.sensor.voltage_ids})
        self.relays = {contactor: Relay() for contactor in ContactorId}
        self.bus_voltage_v = 0.0
        self.current_a = 0.0
        self.fuse_blown = False
        # on a shared DC bus: the bus's current and voltage for the next tick (`take_bus`)
        self.shared_bus = False
        self._bus_current_a = 0.0
        self._bus_voltage_v = 0.0
        self._over_rating_since_s: float | None = None
        self._last_command_s: float | None = None
        # (current, received at) of each source: the VCU's load, the charger, the inverter
        self._demands: dict[type, tuple[float, float]] = {}
        self._override: tuple[float, float] | None = None  # (current, until)
        self._sensor_fault: tuple[SensorFault, float] = (SensorFault.RESUME, math.inf)
        self._voltage_offset_v = 0.0
        self._feedback = Schedule(self.box.feedback_period_s, now_s)
        self._last_s = now_s
        # authenticated commands (dbc/contactor_auth.py): set by the owner, None: off
        self.key: bytes | None = None
        self.challenge = 0
        self.refused_closes = 0  # commands that would have closed something, MAC wrong
        self._command_id = pack_codec().layout_of(ContactorCommand).base_id

    # --- inputs -------------------------------------------------------------------------

    def on_pack_frame(self, frame: CanFrame, now_s: float) -> None:
        if frame.arbitration_id in self.sensor.voltage_ids:  # for U1, nothing for the box
            self.sensor.on_frame(frame, now_s)
            return
        if frame.arbitration_id == self.sensor.command_id:
            self.sensor.on_command(frame, now_s)
            return
        reception = self.receiver.receive(frame)
        if reception is not None and isinstance(reception.frame, ContactorCommand):
            self._obey(reception.frame, now_s)

    def use_key(self, key: bytes | None) -> None:
        """Authenticated commands from now on (None: any valid command is obeyed)."""
        self.key = key
        self.challenge = contactor_auth.new_challenge(0) if key is not None else 0

    def _obey(self, command: ContactorCommand, now_s: float) -> None:
        wanted, now = command.contactors, self._commanded()
        closes = (wanted.main_plus and not now.main_plus) or \
            (wanted.main_minus and not now.main_minus) or \
            (wanted.precharge and not now.precharge)
        if self.key is not None and closes and not contactor_auth.verify(
                self.key, self._command_id, wanted, self.challenge, command.auth_mac):
            self.refused_closes += 1  # the openings in it still count: opening is safe
            wanted = Contactors(wanted.main_plus and now.main_plus,
                                wanted.main_minus and now.main_minus,
                                wanted.precharge and now.precharge)
            if wanted == now:
                return  # not a command at all: it does not keep the box closed either
        self._last_command_s = now_s
        self._command(wanted, now_s)
        if self.key is not None and wanted != now:  # a recorded command is stale now
            self.challenge = contactor_auth.new_challenge(self.challenge)

    def _commanded(self) -> Contactors:
        r = self.relays
        return Contactors(r[ContactorId.MAIN_PLUS].commanded, r[ContactorId.MAIN_MINUS].commanded,
                          r[ContactorId.PRECHARGE].commanded)

    def on_sim_frame(self, frame: CanFrame, now_s: float) -> None:
        reception = self.sim_receiver.receive(frame)
        decoded = reception.frame if reception is not None else None
        if isinstance(decoded, (LoadDemand, ChargerOutput, InverterOutput)):
            self._demands[type(decoded)] = (decoded.current_a, now_s)
        elif isinstance(decoded, InjectCurrent):
            self._override = (decoded.current_a, _until(now_s, decoded.duration_s))
        elif isinstance(decoded, InjectSensor):
            self._sensor_fault = (decoded.action, _until(now_s, decoded.duration_s))
            self._voltage_offset_v = decoded.voltage_offset_v
        elif isinstance(decoded, InjectContactor):
            relay = self.relays[decoded.contactor]
            relay.fault = decoded.fault
            relay.fault_until_s = _until(now_s, decoded.duration_s)
            relay.settles_at_s = min(relay.settles_at_s, now_s)

    def _command(self, contactors: Contactors, now_s: float) -> None:
        box = self.box
        for contactor, close in ((ContactorId.MAIN_PLUS, contactors.main_plus),
                                 (ContactorId.MAIN_MINUS, contactors.main_minus),
                                 (ContactorId.PRECHARGE, contactors.precharge)):
            self.relays[contactor].command(close, now_s, box.close_time_s, box.open_time_s)

    # --- physics --------------------------------------------------------------------------

    @property
    def contactors(self) -> Contactors:
        r = self.relays
        return Contactors(r[ContactorId.MAIN_PLUS].closed, r[ContactorId.MAIN_MINUS].closed,
                          r[ContactorId.PRECHARGE].closed)

    def _load_draw_a(self, now_s: float) -> float:
        """The current the vehicle side draws, the charger and the inverter together (positive
        charges the pack)."""
        if self._override is not None:
            if now_s < self._override[1]:
                return self._override[0]
            self._override = None
        return sum(current_a for current_a, at_s in self._demands.values()
                   if now_s - at_s <= self.box.load_timeout_s)

    def _advance(self, dt_s: float, now_s: float) -> None:
        box = self.box
        capacitance_f = box.dc_link_capacitance_uf / UF_PER_F
        battery_v = self.sensor.battery_voltage_v()
        c = self.contactors
        load_a = self._load_draw_a(now_s)
        if self.shared_bus:
            self.current_a, self.bus_voltage_v = self._bus_current_a, self._bus_voltage_v
        elif not self.fuse_blown and c.main_minus and c.main_plus:
            self.current_a = load_a
            self.bus_voltage_v = battery_v
        elif not self.fuse_blown and c.main_minus and c.precharge:
            # the DC link charges through the resistor while the load (if any) drains it
            tau_s = box.precharge_resistor_ohm * capacitance_f
            settled_v = battery_v + load_a * box.precharge_resistor_ohm
            decay = math.exp(-dt_s / tau_s)
            self.bus_voltage_v = settled_v + (self.bus_voltage_v - settled_v) * decay
            self.current_a = -(battery_v - self.bus_voltage_v) / box.precharge_resistor_ohm
        else:
            self.current_a = 0.0
            self.bus_voltage_v *= math.exp(-dt_s / (box.bus_bleed_resistor_ohm * capacitance_f))
        if abs(self.current_a) > box.fuse_rating_a:
            if self._over_rating_since_s is None:
                self._over_rating_since_s = now_s
            elif now_s - self._over_rating_since_s >= box.fuse_time_s:
                self.fuse_blown = True
                self.current_a = 0.0
        else:
            self._over_rating_since_s = None

    # --- on a shared DC bus (sim/site_plant.py) -----------------------------------------------

    def join_shared_bus(self) -> None:
        """From now on the bus decides the current and the DC-link voltage (`take_bus`)."""
        self.shared_bus = True

    def branch_mode(self) -> BranchMode:
        """How the contactors connect the pack to the bus (a blown fuse: not at all)."""
        c = self.contactors
        if self.fuse_blown or not c.main_minus:
            return BranchMode.OPEN
        if c.main_plus:
            return BranchMode.CLOSED
        return BranchMode.PRECHARGE if c.precharge else BranchMode.OPEN

    def take_bus(self, current_a: float, bus_voltage_v: float) -> None:
        """The bus's step: the current through the box (positive charges the pack) and the
        DC-link voltage, for the next tick."""
        self._bus_current_a = current_a
        self._bus_voltage_v = bus_voltage_v

    def settle(self, now_s: float) -> None:
        """The contactors as they are at ``now_s`` (what the bus needs before the tick; the
        tick does it too, and twice at one time is once)."""
        if self._last_command_s is None or \
                now_s - self._last_command_s > self.box.command_timeout_s:
            if self.key is not None and self._commanded() != Contactors():
                self.challenge = contactor_auth.new_challenge(self.challenge)
            self._command(Contactors(), now_s)  # the master went silent: drop out
        for relay in self.relays.values():
            relay.update(now_s)

    def tick(self, now_s: float) -> list[CanFrame]:
        self.settle(now_s)
        self._advance(now_s - self._last_s, now_s)
        self._last_s = now_s
        fault, until = self._sensor_fault
        if now_s >= until:
            fault = SensorFault.RESUME
        self.sensor.current_a = self.current_a
        self.sensor.bus_voltage_v = self.bus_voltage_v
        self.sensor.silent = fault is SensorFault.SILENCE
        self.sensor.flags = SENSOR_FLAGS.get(fault, IvtFlag.NONE)
        self.sensor.voltage_offset_v = self._voltage_offset_v \
            if fault is SensorFault.OFFSET_VOLTAGE else 0.0
        frames = self.sensor.tick(now_s)
        if self._feedback.due(now_s):
            frames.append(self.sender.encode(ContactorFeedback(
                self.contactors, self.fuse_blown, self.bus_voltage_v, self.challenge)))
        return frames
