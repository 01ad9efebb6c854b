"""The master's pure core: frames in, decisions and frames out, time passed in.

``on_pack_frame`` / ``on_vehicle_frame`` check (E2E, length, range through the codec),
store, run the checks, and react at once when a fatal entry is due: the returned frames
(the contactor command) go out before anything else. ``tick(now)`` ages links, runs the
timeout checks and the state machine, and returns the periodic frames of both buses.
Deterministic: the same frames at the same times give the same output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from bms.can_errors import classify
from bms.settings import Settings, inverter_shares_vehicle_bus
from bms.timing import Schedule
from dbc import contactor_auth
from dbc.charger_frames import ElconCommand
from dbc.codec import CanFrame, Codec, inverter_codec, pack_codec, vehicle_codec
from dbc.e2e import COUNTER_MODULO
from dbc.endpoint import FrameReceiver, FrameSender, Reception
from dbc.frames import (
    OPEN,
    BalancingCommand,
    CellTemperatures,
    CellVoltages,
    ContactorCommand,
    ContactorFeedback,
    Frame,
    MasterHeartbeat,
    MasterState,
    ModuleStatus,
)
from dbc.ivt import IVT_REPLY_TYPES, IvtCurrent, IvtReply, IvtVoltage1, IvtVoltage2
from dbc.vehicle_frames import (
    BmsLimits,
    BmsSoc,
    BmsStatus,
    RequestedState,
    VcuRequest,
)
from master import status_frames
from master.algorithms import PackAlgorithms
from master.diagnosis.checks import Checks
from master.diagnosis.engine import DiagnosisEngine, build_table
from master.diagnosis.limits import resolve_limits
from master.diagnosis.supervision import CONTACTOR_NAMES, Supervision
from master.diagnosis.table import DiagId, Severity
from master.endpoints import EndpointInputs, Endpoints
from master.estimation.current_zero import CurrentZero
from master.events import DiagnosisEvent, MasterEvent, NoticeEvent
from master.pack_state import PackState, PackSummary
from master.report import PackReport, PackStatus, build_report, build_status
from master.sensor_setup import SensorSetup, SetupState
from master.slave_registry import LinkChange, SlaveRegistry
from master.state_machine import StateInputs, StateMachine
from master.thermal import ThermalDemand

MA_PER_A: Final = 1000.0
MV_PER_V: Final = 1000.0
PCT: Final = 100.0
W_PER_KW: Final = 1000.0
JOURNAL_LENGTH: Final = 2000


@dataclass
class MasterStatistics:
    frames_received: int = 0
    frames_ignored: int = 0  # decoded fine, but not for the master (unknown module, ...)
    link_changes: deque[LinkChange] = field(default_factory=lambda: deque(maxlen=1000))
    events: deque[MasterEvent] = field(default_factory=lambda: deque(maxlen=JOURNAL_LENGTH))
    event_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    value: float
    at_s: float


@dataclass
class RemoteRequests:
    """The operator's requests (MQTT commands). Requests only: the state machine and the
    balancing planner decide, exactly as for the VCU's."""

    state: RequestedState | None = None  # used when the pack has no VCU
    reset_until_s: float = float("-inf")
    balancing_enabled: bool = True

    def reset(self, now_s: float, pulse_s: float = 0.5) -> None:
        self.reset_until_s = now_s + pulse_s


@dataclass(init=False)
class Outputs:
    pack: list[CanFrame]
    vehicle: list[CanFrame]
    inverter: list[CanFrame]  # the inverter's bus (the vehicle bus in a pack without a VCU)
    reaction: DiagId | None  # the fatal entry these frames react to

    def __init__(self, pack: list[CanFrame] | None = None,
                 vehicle: list[CanFrame] | None = None, reaction: DiagId | None = None,
                 inverter: list[CanFrame] | None = None) -> None:
        # __init__ written out: a hot-path habit (docs/compiled.md)
        self.pack = [] if pack is None else pack
        self.vehicle = [] if vehicle is None else vehicle
        self.inverter = [] if inverter is None else inverter
        self.reaction = reaction

    def extend(self, other: Outputs) -> None:
        self.pack += other.pack
        self.vehicle += other.vehicle
        self.inverter += other.inverter


class MasterCore:
    """The master of one pack, as pure code: frames and time in, frames out.

    A pack-bus frame is routed by its type (``_routes``) to what it updates: the pack state,
    the limit checks and the supervision (both `master/diagnosis/`); a fatal entry that
    completes its debounce on that frame is answered with the contactor command at once.
    ``tick`` ages the links, estimates, steps the state machine and returns the periodic
    frames. Readers outside the master read `report`, never the attributes.
    """

    def __init__(self, settings: Settings, now_s: float) -> None:
        self.settings = settings
        self.modules = settings.pack.modules
        m = settings.master
        self.receiver = FrameReceiver(pack_codec(), m.e2e_max_lost_frames, "Master")
        self.vehicle_receiver = FrameReceiver(vehicle_codec(), m.e2e_max_lost_frames,
                                              "Master")
        self.sender = FrameSender(pack_codec())
        self.vehicle_sender = FrameSender(vehicle_codec())
        # the inverter's bus: its protocol's codec; on the vehicle bus (a pack without a VCU)
        # its ids are routed there, and no vehicle frame goes out (0x300-0x303 would meet a
        # Sunny Island's own 0x300-0x309)
        protocol = settings.endpoints.inverter
        codec = inverter_codec(protocol) if protocol != "none" else None
        self.inverter_receiver = FrameReceiver(codec, m.e2e_max_lost_frames, "Master") \
            if codec is not None else None
        self.inverter_sender = FrameSender(codec) if codec is not None else None
        shared = codec is not None and inverter_shares_vehicle_bus(settings)
        self._inverter_ids = frozenset((layout.base_id, layout.is_extended_id)
                                       for layout in codec.layouts.values()) \
            if codec is not None and shared else frozenset()
        self.sends_vehicle_frames = settings.endpoints.vcu or not shared
        self.registry = SlaveRegistry(self.modules, m.slave_stale_timeout_s,
                                      m.slave_lost_timeout_s, now_s)
        # the cells each module was last told to bleed (BalancingCommand), and what its
        # status may show while the newest command travels (it and the one before)
        self._bleed_commanded = [0] * self.modules
        self._bleed_allowed = [0] * self.modules
        self.pack = PackState(self.modules, settings.pack.cells_per_module,
                              settings.pack.temperature_sensors_per_module)
        self.module_status: list[ModuleStatus | None] = [None] * self.modules
        self.pack_current_a: Sample | None = None  # the sensor's, its learned zero removed
        self.current_zero = CurrentZero(settings.estimation.current_zero_time_constant_s,
                                        settings.estimation.current_zero_max_a)
        self.pack_voltage_v: Sample | None = None
        self.bus_voltage_v: Sample | None = None  # IVT U2: behind the contactors
        self.feedback: ContactorFeedback | None = None
        self.feedback_at_s: float | None = None
        self.vcu_request: VcuRequest | None = None
        self.vcu_at_s: float | None = None
        self.engine = DiagnosisEngine(build_table(settings.diagnosis))
        limits = resolve_limits(settings)
        self.checks = Checks(self.engine, limits)
        self.supervision = Supervision(self.engine, settings, now_s)
        self.limits = limits
        self.algorithms = PackAlgorithms(settings, limits, now_s)
        self.thermal = ThermalDemand(limits)
        self.remote = RemoteRequests()
        self.contactor_closings = [0] * len(CONTACTOR_NAMES)
        self.machine = StateMachine(settings.contactors, now_s)
        self.statistics = MasterStatistics()
        self._ivt_counter: tuple[int, float] | None = None
        self._command_changed_s = [now_s] * len(CONTACTOR_NAMES)
        self._heartbeat = Schedule(m.heartbeat_period_s, now_s)
        self._status = Schedule(m.status_period_s, now_s)
        self._pack_checks = Schedule(settings.slave.measurement_period_s, now_s)
        self._contactor_schedule = Schedule(settings.contactors.command_period_s, now_s)
        self._bms_status = Schedule(_cycle_s(vehicle_codec(), BmsStatus), now_s)
        self._balancing = Schedule(_cycle_s(pack_codec(), BalancingCommand), now_s)
        self._limits_schedule = Schedule(_cycle_s(vehicle_codec(), BmsLimits), now_s)
        self._soc_schedule = Schedule(_cycle_s(vehicle_codec(), BmsSoc), now_s)
        self.endpoints = Endpoints(settings, limits, now_s)
        self._endpoint_schedule = Schedule(_cycle_s(vehicle_codec(), ElconCommand), now_s)
        self.new_events: deque[MasterEvent] = deque(maxlen=JOURNAL_LENGTH)
        # the fatal entry that put the master in ERROR: reported until the reset
        self.error_cause: DiagId | None = None
        # the key of authenticated contactor commands (dbc/contactor_auth.py), set by the
        # shell from the environment: None, off
        self.contactor_key: bytes | None = None
        self._contactor_command_id = pack_codec().layout_of(ContactorCommand).base_id
        # True when the shell has the kernel send the heartbeat (SocketCAN broadcast manager)
        self.kernel_heartbeat = False
        self._summary: tuple[float, PackSummary] | None = None
        self._summary_frames = 0
        # the pack bus's frames by type: what each one updates and checks
        self._routes: dict[type[Frame], Callable[[int, Any, float], None]] = {
            CellVoltages: self._on_cell_voltages,
            CellTemperatures: self._on_temperatures,
            ModuleStatus: self._on_module_status,
            IvtCurrent: self._on_current,
            IvtVoltage1: self._on_pack_voltage,
            IvtVoltage2: self._on_bus_voltage,
            ContactorFeedback: self._on_feedback,
        }
        # [sensor] configure: the sensor's replies go to its setup, and its results are not
        # used until the setup is done (master/sensor_setup.py)
        self.sensor_setup = SensorSetup(settings.sensor, now_s) \
            if settings.sensor.configure else None
        results: tuple[type[Frame], ...] = (IvtCurrent, IvtVoltage1, IvtVoltage2)
        self._trusted_results = {t: self._routes[t] for t in results}
        if self.sensor_setup is not None:
            self._routes.update({t: self._on_untrusted_result for t in self._trusted_results})
            self._routes.update({t: self._on_sensor_reply for t in IVT_REPLY_TYPES})

    @property
    def state(self) -> MasterState:
        return self.machine.state

    def report(self, now_s: float) -> PackReport:
        """The published model of the pack at ``now_s`` (master/report.py): what every
        reader outside the core reads. Built when asked for: a control loop nobody reads
        pays nothing; a reader that needs it twice in an instant keeps it."""
        return build_report(self, now_s)

    def status(self, now_s: float) -> PackStatus:
        """The pack-level part of the report: what the status frames are built from."""
        return build_status(self, now_s)

    # --- the operator's requests (MQTT commands): requests only, decided as the VCU's ------

    def request_balancing(self, enabled: bool) -> None:
        self.remote.balancing_enabled = enabled

    def request_fault_reset(self, now_s: float) -> None:
        self.remote.reset(now_s)

    def request_charge_target(self, soc: float) -> str | None:
        """The SOC (0..1) the charger stops at; the reason when refused."""
        charger = self.endpoints.charger
        if charger is None:
            return "this pack has no charger"
        charger.target_soc = soc
        return None

    def request_state(self, request: RequestedState) -> str | None:
        """The state the pack is asked for when it has no VCU; the reason when refused."""
        if self.settings.endpoints.vcu:
            return "this pack has a VCU: only the VCU requests states"
        self.remote.state = request
        return None

    def request_soc(self, soc: float, sigma: float | None, now_s: float) -> str | None:
        """The operator's SOC (the usable one, 0..1) with its 1-sigma (None: the
        setting's), taken by the estimator as a measurement; the reason when refused."""
        current = self.pack_current_a
        fresh = current is not None and \
            now_s - current.at_s <= self.settings.master.current_timeout_s
        refused = self.algorithms.set_soc(now_s, soc, sigma,
                                          current.value if current is not None and fresh
                                          else None)
        self._journal_drift()
        return refused

    def _journal_drift(self) -> None:
        events = self.algorithms.drift.take_events()
        if events:
            self.machine.events.extend(events)
            self._journal()

    def offset_soc_estimate(self, offset: float) -> bool:
        """Move every cell's SOC estimate by ``offset`` (a fraction): a scenario's test of
        the estimator's convergence. False while the estimator has not started."""
        soc_filter = self.algorithms.estimator.filter
        if not soc_filter.initialised:
            return False
        soc_filter.soc = soc_filter.soc + offset
        return True

    def e2e_window_errors(self) -> tuple[int, ...]:
        """Per module, the failed E2E checks in its current window."""
        return self.supervision.e2e_window_errors()

    # --- input ----------------------------------------------------------------------------

    def on_pack_frame(self, frame: CanFrame, now_s: float) -> Outputs:
        self.statistics.frames_received += 1
        reception = self.receiver.receive(frame)
        if reception is None:
            return Outputs()
        if reception.e2e is not None:
            self._check_e2e(reception, now_s)
        decoded = reception.frame
        if type(decoded) is CellVoltages:  # most frames: a native call where compiled
            self._on_cell_voltages(reception.module_id, decoded, now_s)
        elif decoded is not None:
            route = self._routes.get(type(decoded))
            if route is None:
                self.statistics.frames_ignored += 1
            else:
                route(reception.module_id, decoded, now_s)
        return self._react_if_due(now_s)

    def on_vehicle_frame(self, frame: CanFrame, now_s: float) -> Outputs:
        if self._inverter_ids and (frame.arbitration_id, frame.is_extended_id) in \
                self._inverter_ids:
            return self.on_inverter_frame(frame, now_s)  # the inverter shares the vehicle bus
        self.statistics.frames_received += 1
        reception = self.vehicle_receiver.receive(self.endpoints.received_id(frame))
        if reception is None or reception.frame is None:
            return Outputs()
        if not isinstance(reception.frame, VcuRequest):
            self.endpoints.on_frame(reception.frame, now_s)
            return Outputs()
        if not self.settings.endpoints.vcu:
            return Outputs()
        if self.vcu_request is not None and reception.frame.service_reset and \
                not self.vcu_request.service_reset:
            self.engine.service_reset(now_s)
        changed = self.vcu_request != reception.frame
        self.vcu_request, self.vcu_at_s = reception.frame, now_s
        return self._step(now_s) if changed else Outputs()

    def on_inverter_frame(self, frame: CanFrame, now_s: float) -> Outputs:
        """A frame of the inverter's bus: its protocol's endpoint takes it (a keep-alive, a
        request it answers at the next tick)."""
        self.statistics.frames_received += 1
        receiver = self.inverter_receiver
        reception = receiver.receive(frame) if receiver is not None else None
        if reception is not None and reception.frame is not None:
            self.endpoints.on_inverter_frame(reception.frame, now_s)
        return Outputs()

    def on_pack_bus_error(self, error_class: int, data: bytes, now_s: float) -> Outputs:
        """An error frame of the pack bus's controller: bus-off is fatal."""
        self.supervision.bus_condition(classify(error_class, data), now_s)
        return self._react_if_due(now_s)

    def _check_e2e(self, reception: Reception, now_s: float) -> None:
        if reception.e2e is None or reception.layout.module_id_range == 0:
            return  # not protected, or not a slave's
        if reception.module_id < self.modules:
            self.supervision.e2e(reception.module_id, reception.e2e.is_error, now_s)

    def _heard(self, module_id: int, now_s: float) -> bool:
        """A slave's frame: its link is online; False (and counted) beyond the pack."""
        if module_id >= self.modules:
            self.statistics.frames_ignored += 1
            return False
        change = self.registry.heard(module_id, now_s)
        if change:
            self.statistics.link_changes.append(change)
        return True

    # --- the routes: one per frame type of the pack bus ----------------------------------

    def _on_cell_voltages(self, module_id: int, decoded: CellVoltages, now_s: float) -> None:
        if not self._heard(module_id, now_s):
            return
        self.pack.cell_mv.update(module_id, decoded.first_cell, decoded.voltages_mv, now_s)
        self.algorithms.on_cell_voltages()
        self.checks.cell_voltages(module_id, decoded.first_cell, decoded.voltages_mv,
                                  self.pack.cell_mv.per_module, now_s)
        self.supervision.cell_voltages(module_id, decoded.first_cell, decoded.voltages_mv,
                                       now_s)

    def _on_temperatures(self, module_id: int, decoded: CellTemperatures,
                         now_s: float) -> None:
        if not self._heard(module_id, now_s):
            return
        self.pack.temperature_degc.update(module_id, decoded.first_sensor,
                                          decoded.temperatures_degc, now_s)
        self.checks.temperatures(module_id, decoded.first_sensor, decoded.temperatures_degc,
                                 self.settings.pack.temperature_sensors_per_module,
                                 self._charging(), now_s)

    def _on_module_status(self, module_id: int, decoded: ModuleStatus, now_s: float) -> None:
        if not self._heard(module_id, now_s):
            return
        self.module_status[module_id] = decoded
        self.checks.module_status(module_id, decoded.faults, now_s)
        self.supervision.bleeding(
            module_id, decoded.balancing_mask & ~self._bleed_allowed[module_id], now_s)

    def _on_pack_voltage(self, _: int, decoded: IvtVoltage1, now_s: float) -> None:
        if decoded.valid:
            self.pack_voltage_v = Sample(decoded.voltage_mv / MV_PER_V, now_s)
            total = self.pack.sum_of_cells_v(now_s, self.settings.master.slave_stale_timeout_s)
            if total is not None:
                self.checks.pack_voltage(total, self.pack_voltage_v.value, now_s)

    def _on_bus_voltage(self, _: int, decoded: IvtVoltage2, now_s: float) -> None:
        if decoded.valid:
            self.bus_voltage_v = Sample(decoded.voltage_mv / MV_PER_V, now_s)

    def _on_feedback(self, _: int, decoded: ContactorFeedback, now_s: float) -> None:
        self.on_contactor_feedback(decoded, now_s)

    def _on_sensor_reply(self, _: int, decoded: IvtReply, now_s: float) -> None:
        setup = self.sensor_setup
        if setup is None:
            return
        setup.on_reply(decoded, now_s)
        if setup.state is SetupState.DONE and self._trusted_results:
            self._routes.update(self._trusted_results)  # the results are used from now on
            self._trusted_results = {}

    def _on_untrusted_result(self, _: int, decoded: Frame, now_s: float) -> None:
        """A result of a sensor not (yet) configured: byte order and period unknown."""
        if self.sensor_setup is not None:
            self.sensor_setup.results_ignored += 1

    def _sensor_setup_frames(self, now_s: float) -> list[CanFrame]:
        """The setup's commands due now; its notes and outcome."""
        setup = self.sensor_setup
        if setup is None:
            return []
        frames = [self.sender.encode(command) for command in setup.poll(now_s)]
        for note in setup.take_notes():
            self.note(note, now_s)
        self.supervision.sensor_setup(setup.state is SetupState.FAILED, now_s)
        return frames

    def _on_current(self, _: int, decoded: IvtCurrent, now_s: float) -> None:
        self._store_current(decoded, now_s)

    def _store_current(self, decoded: IvtCurrent, now_s: float) -> None:
        if self._ivt_counter is None or self._ivt_counter[0] != decoded.counter:
            self._ivt_counter = (decoded.counter, now_s)
        measured_a = decoded.current_ma / MA_PER_A
        self.checks.current(measured_a, decoded.flags, now_s)  # the raw reading: protection
        if decoded.valid:
            feedback = self.feedback.contactors if self.feedback is not None else None
            self.current_zero.sample(measured_a, feedback == OPEN, now_s)
            self.pack_current_a = Sample(self.current_zero.corrected(measured_a), now_s)
            self.algorithms.integral.sample(self.pack_current_a.value, now_s)

    def _check_current_response(self, now_s: float) -> None:
        if not self.supervision.watches_current_response:
            return  # no module means to work out every period
        current = self.pack_current_a
        current_a = current.value if current is not None and \
            now_s - current.at_s <= self.settings.master.current_timeout_s else None
        means = self.pack.cell_mv.means(now_s, self.settings.master.slave_stale_timeout_s)
        self.supervision.current_response(current_a, means, now_s)

    def _charging(self) -> bool:
        current = self.pack_current_a
        return current is not None and current.value > self.settings.master.charge_detect_a

    def on_contactor_feedback(self, feedback: ContactorFeedback, now_s: float) -> None:
        """The auxiliary contacts, from the contactor box's frame or the master's own GPIO."""
        self.feedback, self.feedback_at_s = feedback, now_s
        self.supervision.contactors(self.machine.command, feedback, self._command_changed_s,
                                    now_s)

    # --- periodic -------------------------------------------------------------------------

    def tick(self, now_s: float) -> Outputs:
        self._timeouts(now_s)
        setup_frames = self._sensor_setup_frames(now_s)
        if self._pack_checks.due(now_s):
            s = self.summary(now_s)
            if s.min_cell_mv is not None and s.max_cell_mv is not None:
                low, high = s.min_temperature_degc, s.max_temperature_degc
                self.checks.spreads(s.min_cell_mv.value, s.max_cell_mv.value,
                                    low.value if low else None, high.value if high else None,
                                    now_s)
            self._check_current_response(now_s)
            self._estimate(now_s)
        out = self._step(now_s)
        command_sent = bool(out.pack)  # _step only ever emits the contactor command
        out.pack += setup_frames
        if self._heartbeat.due(now_s) and not self.kernel_heartbeat:
            out.pack.append(self.sender.encode(self.heartbeat()))
        if self._balancing.due(now_s):
            out.pack += self._balancing_frames()
        status_due = self._status.due(now_s)
        bms_status_due = self._bms_status.due(now_s)
        limits_due = self._limits_schedule.due(now_s)
        endpoint_due = self._endpoint_schedule.due(now_s)
        soc_due = self._soc_schedule.due(now_s)
        report = self.status(now_s) if status_due or bms_status_due or limits_due or \
            soc_due else None
        if status_due and report is not None:
            out.pack += [self.sender.encode(page) for page in status_frames.status_pages(report)]
        if self._contactor_schedule.due(now_s) and not command_sent:
            out.pack.append(self._contactor_frame())
        vehicle = self.sends_vehicle_frames
        if bms_status_due and report is not None and vehicle:
            out.vehicle.append(self.vehicle_sender.encode(status_frames.bms_status(report)))
        if limits_due and report is not None and vehicle:
            out.vehicle += [self.vehicle_sender.encode(f)
                            for f in status_frames.limit_frames(report)]
        if endpoint_due and self.endpoints.charger is not None:
            out.vehicle += self.endpoints.frames(now_s, self._endpoint_inputs(now_s),
                                                 self.vehicle_sender)
        if self.inverter_sender is not None and self.algorithms.estimate is not None and \
                self.endpoints.inverter_due(now_s):
            out.inverter += self.endpoints.inverter_frames(now_s, self._endpoint_inputs(now_s),
                                                           self.inverter_sender)
        if soc_due and report is not None:
            cold, hot = report.summary.min_temperature_degc, report.summary.max_temperature_degc
            thermal = self.thermal.update(cold.value if cold else None,
                                          hot.value if hot else None, self._charging())
            if vehicle:
                out.vehicle += [self.vehicle_sender.encode(f)
                                for f in status_frames.estimate_frames(report, thermal)]
        return out

    def _estimate(self, now_s: float) -> None:
        m = self.settings.master
        current = self.pack_current_a
        fresh = current is not None and now_s - current.at_s <= m.current_timeout_s
        self.algorithms.update(now_s, self.pack, m.slave_stale_timeout_s,
                               m.temperature_stale_timeout_s,
                               current.value if current is not None and fresh else None,
                               allowed=self.state is not MasterState.ERROR)
        for note in self.algorithms.estimator.take_notes():
            self.note(note, now_s)
        self._journal_drift()

    def _balancing_frames(self) -> list[CanFrame]:
        request = self.vcu_request
        current = self.pack_current_a
        plan = self.algorithms.plan_balancing(
            self.state, current.value if current is not None else None,
            vcu_enabled=self.remote.balancing_enabled and
            not (request is not None and request.balancing_disabled),
            vcu_threshold_mv=(request.balancing_threshold_mv or None) if request else None)
        duration = self.settings.balancing.command_duration_s
        for m, mask in enumerate(plan.masks):  # what each slave may bleed: this, or the last
            self._bleed_allowed[m] = mask | self._bleed_commanded[m]  # (one command's lag)
            self._bleed_commanded[m] = mask
        return [self.sender.encode(BalancingCommand(mask, duration if mask else 0), m)
                for m, mask in enumerate(plan.masks)]

    def pack_voltage_limits_v(self) -> tuple[float, float]:
        """The pack's voltage window: every cell at the charge ceiling (its operating limit,
        or the everyday charge's below it; a calibration charge's during one) and at its
        operating under-voltage limit. The high one is the inverter's charge voltage."""
        cells = self.settings.pack.cells
        return (cells * self.algorithms.drift.charge_cell_mv / MV_PER_V,
                cells * self.limits.cell_undervoltage_mv.operating / MV_PER_V)

    def pack_values(self, now_s: float) -> tuple[float, float]:
        """(voltage, current) of the pack: the sensor's, else the sum of the cells."""
        voltage = self.pack_voltage_v.value if self.pack_voltage_v is not None else \
            self.summary(now_s).sum_of_cells_v or 0.0
        current = self.pack_current_a.value if self.pack_current_a is not None else 0.0
        return voltage, current

    def _endpoint_inputs(self, now_s: float) -> EndpointInputs:
        limits = self.algorithms.limits
        estimate = self.algorithms.estimate
        voltage, current = self.pack_values(now_s)
        summary = self.summary(now_s)
        hot, cold = summary.max_temperature_degc, summary.min_temperature_degc
        feedback = self.feedback.contactors if self.feedback is not None else OPEN
        cells = self.settings.pack.cells_per_module
        means = self.pack.cell_mv.means(now_s, self.settings.master.slave_stale_timeout_s) \
            if self.settings.endpoints.inverter == "pylon_hv" else []
        return EndpointInputs(
            state=self.state,
            contactors_closed=feedback.main_plus and feedback.main_minus,
            fatal=tuple(e for e, _, _ in self.engine.active(Severity.FATAL)),
            warnings=tuple(e for e, _, _ in self.engine.active(Severity.WARNING)),
            charge_limit_a=limits.charge_a, discharge_limit_a=limits.discharge_a,
            voltage_v=voltage, current_a=current,
            max_temperature_degc=hot.value if hot is not None else 0.0,
            soc_max=estimate.soc_max if estimate is not None else None,
            soc_pct=estimate.soc_usable * PCT if estimate is not None else 0.0,
            soh_pct=estimate.capacity_ratio_min * PCT if estimate is not None else 100.0,
            charge_voltage_v=self.pack_voltage_limits_v()[0],
            min_temperature_degc=cold.value if cold is not None else None,
            highest_cell_mv=summary.max_cell_mv, lowest_cell_mv=summary.min_cell_mv,
            hottest_degc=hot, coldest_degc=cold,
            module_voltages_v=tuple(None if mean is None else mean * cells / MV_PER_V
                                    for mean in means))

    def _timeouts(self, now_s: float) -> None:
        self.statistics.link_changes.extend(self.registry.update(now_s))
        supervision = self.supervision
        supervision.links(self.registry, now_s)
        current = self.pack_current_a
        supervision.peers(current.at_s if current is not None else None,
                          self._ivt_counter[1] if self._ivt_counter is not None else None,
                          self.feedback_at_s, self.vcu_at_s, now_s)
        supervision.endpoints(self.endpoints.observations(now_s, self.state), now_s)
        failed = self.machine.take_precharge_failure()
        supervision.precharge(failed, now_s)
        if failed:
            self.error_cause = DiagId.PRECHARGE_FAILED

    # --- decisions ------------------------------------------------------------------------

    def _react_if_due(self, now_s: float) -> Outputs:
        """React within the frame that completed a fatal debounce, not at the next tick."""
        if self.engine.fatal_due(now_s) is not None and self.state is not MasterState.ERROR:
            return self._step(now_s)
        if self.engine.events or self.machine.events:
            self._journal()
        return Outputs()

    def _inputs(self, now_s: float) -> StateInputs:
        m = self.settings.master
        fatal = self.engine.fatal_due(now_s)
        request = self.vcu_request
        fresh_request = request is not None and self.vcu_at_s is not None and (
            m.vcu_heartbeat_timeout_s == 0 or now_s - self.vcu_at_s <= m.vcu_heartbeat_timeout_s)
        if self.settings.endpoints.vcu:
            requested = request.requested if fresh_request and request else None
        else:
            requested = self.remote.state if self.remote.state is not None else \
                RequestedState[self.settings.endpoints.request_without_vcu.upper()]
        current = self.pack_current_a
        feedback = self.feedback.contactors if self.feedback is not None else None
        pack_v = self.pack_voltage_v.value if self.pack_voltage_v is not None else \
            self.summary(now_s).sum_of_cells_v
        return StateInputs(
            request=requested,
            reset_faults=bool(request and request.reset_faults) or
            now_s < self.remote.reset_until_s,
            fatal_due=None if fatal is None else f"{fatal[0].name.lower()} at {fatal[1]}",
            fatal_active=bool(self.engine.active(Severity.FATAL)),
            closing_blocked=self.closing_blocked(),
            pack_voltage_v=pack_v,
            bus_voltage_v=self.feedback.bus_voltage_v if self.feedback is not None else None,
            current_a=current.value if current is not None else None,
            feedback=feedback,
        )

    def closing_blocked(self) -> str | None:
        if not self.registry.all_online():
            return "not every module is online"
        if self.sensor_setup is not None and self.sensor_setup.state is not SetupState.DONE:
            return "the current sensor is not configured"
        if self.pack_current_a is None:
            return "no current measurement"
        if self.feedback is None:
            return "no contactor feedback"
        return None

    def _step(self, now_s: float) -> Outputs:
        before, state_before = self.machine.command, self.state
        due = self.engine.fatal_due(now_s)
        self.machine.step(self._inputs(now_s), now_s)
        reacted = self.state is MasterState.ERROR and state_before is not MasterState.ERROR
        if reacted and due:
            self.error_cause = due[0]
        elif self.state is not MasterState.ERROR:
            self.error_cause = None
        out = Outputs()
        if self.machine.command != before:
            for index, name in enumerate(CONTACTOR_NAMES):
                if getattr(self.machine.command, name) != getattr(before, name):
                    self._command_changed_s[index] = now_s
                    if getattr(self.machine.command, name):
                        self.contactor_closings[index] += 1
            out.pack.append(self._contactor_frame())
            if reacted and due:
                out.reaction = due[0]
        self._journal()
        return out

    def heartbeat(self) -> MasterHeartbeat:
        return MasterHeartbeat(self.state, balancing_allowed=self.algorithms.plan.allowed)

    def heartbeat_sequence(self) -> list[CanFrame]:
        """The heartbeat with every alive counter in turn, for kernel-timed sending."""
        codec, heartbeat = pack_codec(), self.heartbeat()
        return [codec.encode(heartbeat, counter=c) for c in range(COUNTER_MODULO)]

    def _contactor_frame(self) -> CanFrame:
        command = self.machine.command
        if self.contactor_key is None:
            return self.sender.encode(ContactorCommand(command))
        challenge = self.feedback.challenge if self.feedback is not None else 0
        return self.sender.encode(ContactorCommand(command, contactor_auth.mac(
            self.contactor_key, self._contactor_command_id, command, challenge)))

    def _journal(self) -> None:
        for source in (self.engine.events, self.machine.events):
            for event in source:
                self.statistics.events.append(event)
                self.new_events.append(event)
                key = _event_key(event)
                self.statistics.event_counts[key] = self.statistics.event_counts.get(key, 0) + 1
            source.clear()

    def note(self, text: str, now_s: float) -> None:
        """Add a line to the journal (for what the shell did: a black box written, ...)."""
        self.machine.events.append(NoticeEvent(now_s, text))
        self._journal()

    def drain_events(self) -> list[MasterEvent]:
        """Events since the last call (for the shell's log and, later, persistence)."""
        events = list(self.new_events)
        self.new_events.clear()
        return events

    # --- reporting ------------------------------------------------------------------------

    def summary(self, now_s: float) -> PackSummary:
        """The pack figures at ``now_s`` (computed once per instant)."""
        if self._summary is not None and self._summary[0] == now_s and \
                self._summary_frames == self.statistics.frames_received:
            return self._summary[1]
        m = self.settings.master
        summary = self.pack.summary(now_s, m.slave_stale_timeout_s, m.temperature_stale_timeout_s)
        self._summary = (now_s, summary)
        self._summary_frames = self.statistics.frames_received
        return summary

    def safe_state_frame(self) -> CanFrame:
        """The frame that opens every contactor: for the shell's ``finally``."""
        return self.sender.encode(ContactorCommand(OPEN))


def _event_key(event: MasterEvent) -> str:
    if isinstance(event, DiagnosisEvent):
        return f"{event.entry.name.lower()}:{event.change.value}"
    return type(event).__name__


def _cycle_s(codec: Codec, frame_type: type[Frame]) -> float:
    cycle = codec.layout_of(frame_type).cycle_time_s
    if cycle is None:
        raise ValueError(f"{frame_type.MESSAGE} has no GenMsgCycleTime")
    return cycle

