"""The whole virtual pack in one process on virtual time, exchanging encoded frames.

Master, slaves, HV box (with the current sensor), VCU and, when the pack has them, the
charger and the inverter run their pure cores; their
frames travel on four wires (pack, vehicle, inverter, simulation) exactly as on the real
buses (the inverter's frames on the vehicle wire when the pack puts it there):
every node hears every frame of its buses, its own too, and a frame sent in reaction to
another goes out in the same step. The DBC and the E2E protection are exercised as in the
real processes. Runs as fast as the CPU allows; same settings, same frames, bit for bit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bms.settings import Settings, inverter_shares_vehicle_bus
from bms.timing import Schedule
from dbc.codec import CanFrame, pack_codec, sim_codec
from dbc.frames import Frame
from dbc.ivt import IvtCurrent
from master.core import MasterCore, Outputs
from sim.charger import ChargerSim
from sim.hv_box import HvBox
from sim.inverter import InverterSim
from sim.inverters import make_inverter_sim
from sim.slave_faults import SlaveFaults
from sim.vcu import PeerOutputs, VcuSim
from slave.afe.sim import SimAfe
from slave.core import SlaveCore

Listener = Callable[[CanFrame, float], object]
BUSES = ("pack", "vehicle", "sim", "inverter")


@dataclass(init=False)
class WireFrame:
    """One frame on a wire. (``__init__`` written out: docs/compiled.md.)"""

    time_s: float
    bus: str
    node: str  # DBC node of the sender
    frame: CanFrame

    def __init__(self, time_s: float, bus: str, node: str, frame: CanFrame) -> None:
        self.time_s = time_s
        self.bus = bus
        self.node = node
        self.frame = frame


@dataclass
class Wires:
    """Who hears what. A listener may name the ids it wants (a slave's receive filter, as
    SocketCAN would apply it in the kernel); the others hear everything."""

    listeners: dict[str, list[tuple[Listener, frozenset[int] | None]]] = field(
        default_factory=lambda: {bus: [] for bus in BUSES})
    _targets: dict[tuple[str, int], list[Listener]] = field(default_factory=dict)

    def listen(self, bus: str, listener: Listener, ids: frozenset[int] | None = None) -> None:
        self.listeners[bus].append((listener, ids))
        self._targets.clear()

    def targets(self, bus: str, arbitration_id: int) -> list[Listener]:
        key = (bus, arbitration_id)
        found = self._targets.get(key)
        if found is None:
            found = [listener for listener, ids in self.listeners[bus]
                     if ids is None or arbitration_id in ids]
            self._targets[key] = found
        return found


class LockstepPack:
    def __init__(self, settings: Settings, start_s: float = 0.0) -> None:
        self.settings = settings
        self.master = MasterCore(settings, start_s)
        self.afes = [SimAfe(settings, m, start_s) for m in range(settings.pack.modules)]
        # the injections, around each slave's AFE and on its wire (sim/slave_faults.py)
        self.faults = [SlaveFaults(m, pack_codec()) for m in range(settings.pack.modules)]
        self.slaves = [SlaveCore(settings, m, faults.afe(afe), pack_codec(), start_s)
                       for m, (afe, faults) in enumerate(zip(self.afes, self.faults,
                                                             strict=True))]
        self._plant_current_a = 0.0
        self.box = HvBox(settings, start_s)
        self.vcu = VcuSim(settings, start_s)
        endpoints = settings.endpoints
        self.charger = ChargerSim(settings, start_s) if endpoints.charger != "none" else None
        self.inverter: InverterSim | None = make_inverter_sim(settings, start_s) \
            if endpoints.inverter != "none" else None
        # the wire the inverter and the master's inverter frames are on
        self.inverter_wire = "vehicle" if inverter_shares_vehicle_bus(settings) else "inverter"
        self.step_s = min(settings.master.tick_period_s,
                          settings.sim.current_sensor.current_period_s)
        self._slave_schedule = Schedule(settings.slave.measurement_period_s, start_s)
        self.now_s = start_s
        self.wires = Wires()
        self._pending_sim: list[CanFrame] = []
        # a broken wire: frames for which this returns True never arrive
        self.cut: Callable[[WireFrame], bool] | None = None
        self._queue: deque[WireFrame] = deque()
        self._wire_nodes()

    def _wire_nodes(self) -> None:
        w = self.wires
        w.listen("pack", self._master_pack)
        w.listen("vehicle", self._master_vehicle)
        w.listen("inverter", self._master_inverter)
        # the box's sensor gets the modules' true voltages (`_module_voltages`), not the
        # cell voltages a box process has to hear
        w.listen("pack", self.box.on_pack_frame,
                 self.box.wanted_ids - frozenset(self.box.sensor.voltage_ids))
        w.listen("sim", self.box.on_sim_frame)
        w.listen("vehicle", self.vcu.on_vehicle_frame)
        w.listen("sim", self.vcu.on_sim_frame)
        if self.charger is not None:
            w.listen("vehicle", self.charger.on_vehicle_frame)
            w.listen("pack", self.charger.on_pack_frame, self.charger.wanted_pack_ids)
            w.listen("sim", self.charger.on_sim_frame)
        if self.inverter is not None:
            w.listen(self.inverter_wire, self.inverter.on_frame)
        # the cells get the box's current from the box itself (`_currents`), not from the
        # sensor's frames a slave process has to hear
        sensor_ids = {pack_codec().layout_of(IvtCurrent).base_id}
        for slave, faults in zip(self.slaves, self.faults, strict=True):
            w.listen("pack", slave.on_frame, slave.wanted_ids - sensor_ids)
            w.listen("sim", faults.on_sim_frame, faults.wanted_sim_ids)

    def _emit(self, bus: str, node: str, frames: list[CanFrame]) -> None:
        if frames:  # mostly nothing: a received frame rarely makes the master send
            now_s = self.now_s
            self._queue.extend([WireFrame(now_s, bus, node, f) for f in frames])

    def _emit_outputs(self, out: Outputs) -> None:
        self._emit("pack", "Master", out.pack)
        self._emit("vehicle", "Master", out.vehicle)
        self._emit(self.inverter_wire, "Master", out.inverter)

    def _emit_peer(self, node: str, out: PeerOutputs) -> None:
        self._emit("vehicle", node, out.vehicle)
        self._emit("sim", node, out.sim)

    def _master_pack(self, frame: CanFrame, now_s: float) -> None:
        self._emit_outputs(self.master.on_pack_frame(frame, now_s))

    def _master_vehicle(self, frame: CanFrame, now_s: float) -> None:
        self._emit_outputs(self.master.on_vehicle_frame(frame, now_s))

    def _master_inverter(self, frame: CanFrame, now_s: float) -> None:
        self._emit_outputs(self.master.on_inverter_frame(frame, now_s))

    def inject(self, command: Frame) -> None:
        """Send a simulation-bus command (fault injection, VCU request) at the next step."""
        self._pending_sim.append(sim_codec().encode(command))

    def error_frame(self, error_class: int, data: bytes) -> None:
        """The pack bus's controller reports an error frame to the master (bus-off, ...)."""
        self._emit_outputs(self.master.on_pack_bus_error(error_class, data, self.now_s))

    def alive_slaves(self) -> list[tuple[SlaveCore, SlaveFaults | None]]:
        """Each slave not killed by an injection, with its faults (None: a slave added
        without any)."""
        faults: list[SlaveFaults | None] = [*self.faults]
        faults += [None] * (len(self.slaves) - len(faults))
        return [(s, f) for s, f in zip(self.slaves, faults, strict=True)
                if f is None or not f.kill_requested]

    def step(self) -> list[WireFrame]:
        """Advance one step: every due node sends, every frame reaches its bus."""
        now = self.now_s
        self._emit("sim", "Injector", self._pending_sim)
        self._pending_sim = []
        self._emit_outputs(self.master.tick(now))
        for frame in self.box.tick(now):  # the box speaks as the contactor box and the IVT-S
            sender = pack_codec().lookup(frame.arbitration_id)[0].senders[0]
            self._emit("pack", sender, [frame])
        self._emit_peer("Vcu", self.vcu.tick(now))
        if self.charger is not None:
            self._emit_peer("Charger", self.charger.tick(now))
        if self.inverter is not None:
            out = self.inverter.tick(now)
            self._emit(self.inverter_wire, "Inverter", out.vehicle)
            self._emit("sim", "Inverter", out.sim)
        if self._slave_schedule.due(now):
            for slave, faults in self.alive_slaves():
                frames = slave.tick(now)
                self._emit("pack", "Slave", frames if faults is None else faults.wire(frames, now))
            self._module_voltages()
        self._currents(now)
        sent = []
        while self._queue:
            item = self._queue.popleft()
            sent.append(item)
            if self.cut is not None and self.cut(item):
                continue
            for listener in self.wires.targets(item.bus, item.frame.arbitration_id):
                listener(item.frame, now)
        self.now_s = round(now + self.step_s, 9)
        return sent

    def _currents(self, now_s: float) -> None:
        """The current the box lets flow from now on, in every module's cells (a killed
        slave's too): exact, where a slave process takes it from the sensor's frames, with
        their resolution and without them when the sensor is silent."""
        current_a = self.box.current_a
        if current_a != self._plant_current_a:
            self._plant_current_a = current_a
            for afe in self.afes:
                afe.set_true_current(current_a, now_s)

    def _module_voltages(self) -> None:
        """The cells' true voltages at their latest measurement, for the box's sensor (U1):
        what its voltage input sees, where a box process sums the slaves' frames."""
        sensor = self.box.sensor
        for module_id, afe in enumerate(self.afes):
            sensor.set_module_voltage(module_id, afe.module_voltage_v)

    def run(self, duration_s: float) -> Iterator[WireFrame]:
        end = self.now_s + duration_s
        while self.now_s < end - 1e-9:
            yield from self.step()

    def run_until(self, condition: Callable[[], bool], timeout_s: float) -> float:
        """Step until ``condition`` holds; returns the virtual time it took."""
        start = self.now_s
        while not condition():
            if self.now_s - start > timeout_s:
                raise TimeoutError(f"condition not met within {timeout_s} s of virtual time")
            self.step()
        return self.now_s - start
