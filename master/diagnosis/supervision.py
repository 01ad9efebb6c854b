"""Supervision: the observations of links, peers and hardware, beside the limit checks.

Where `checks.py` compares measured values with limits, this module watches that the
measurements and the hardware are there and believable: every slave's link (lost, stale),
its E2E window, readings that freeze, flip or ignore the current, bleeding nobody asked
for; the current sensor, the contactor box and the VCU going silent; the contactors'
auxiliary contacts against the command (welded, failed to close), the fuse, the pack bus's
controller (bus-off, error-passive), the precharge and the current sensor's setup. Each says
what it saw; the table (`table.py`) decides what it means. The core routes the frames and
calls these.
"""

from __future__ import annotations

from collections.abc import Iterable

from bms.can_errors import BusCondition
from bms.settings import Settings
from dbc.frames import ContactorFeedback, Contactors
from master.diagnosis.current_response import CurrentResponse
from master.diagnosis.e2e_window import E2eWindow
from master.diagnosis.engine import DiagnosisEngine
from master.diagnosis.flipping_readings import FlippingReadings
from master.diagnosis.frozen_readings import FrozenReadings
from master.diagnosis.table import DiagId
from master.events import PACK, Location
from master.slave_registry import LinkState, SlaveRegistry

CONTACTOR_NAMES = ("main_plus", "main_minus", "precharge")


class Supervision:
    """The supervision entries of one master (`engine`'s), per module and for the pack."""

    def __init__(self, engine: DiagnosisEngine, settings: Settings, now_s: float) -> None:
        self.engine = engine
        self.settings = settings
        m = settings.master
        modules = settings.pack.modules
        self.start_s = now_s
        self._locations = [Location(module) for module in range(modules)]
        self._e2e_windows = [E2eWindow(m.e2e_window_frames, m.e2e_window_errors)
                             for _ in range(modules)]
        self._frozen = FrozenReadings(modules, m.frozen_readings_s)
        self._flipping = FlippingReadings(modules, m.flipping_readings_mv)
        self._current_response = CurrentResponse(modules, m.current_response_swing_a)

    # --- per frame ------------------------------------------------------------------------

    def e2e(self, module_id: int, is_error: bool, now_s: float) -> None:
        """A slave's protected frame was checked: too many failures in its window."""
        violated = self._e2e_windows[module_id].add(is_error)
        self.engine.observe(DiagId.SLAVE_E2E, self._locations[module_id], violated, now_s)

    def e2e_window_errors(self) -> tuple[int, ...]:
        """Per module, the failed E2E checks in its current window."""
        return tuple(window.errors for window in self._e2e_windows)

    def cell_voltages(self, module_id: int, first_cell: int, voltages_mv: tuple[int | None, ...],
                      now_s: float) -> None:
        """A module's cell voltages: frozen (replayed) or flipping (forged in turn)?"""
        location = self._locations[module_id]
        frozen = self._frozen.observe(module_id, first_cell, voltages_mv, now_s)
        self.engine.observe(DiagId.SLAVE_FROZEN, location, frozen, now_s)
        flipping = self._flipping.observe(module_id, first_cell, voltages_mv)
        self.engine.observe(DiagId.SLAVE_READINGS_FLIPPING, location, flipping, now_s)

    def bleeding(self, module_id: int, unrequested_mask: int, now_s: float) -> None:
        """A module's status shows cells bleeding that no command allowed: a forged
        command, or the slave's own fault."""
        self.engine.observe(DiagId.SLAVE_BALANCING_UNREQUESTED, self._locations[module_id],
                            bool(unrequested_mask), now_s, float(unrequested_mask))

    def bus_condition(self, condition: BusCondition | None, now_s: float) -> None:
        """An error frame of the pack bus's controller: bus-off is fatal."""
        if condition is BusCondition.BUS_OFF:
            self.engine.observe(DiagId.PACK_BUS_OFF, PACK, True, now_s)
        elif condition is BusCondition.ERROR_PASSIVE:
            self.engine.observe(DiagId.PACK_BUS_ERROR_PASSIVE, PACK, True, now_s)
        elif condition is BusCondition.RECOVERED:
            self.engine.observe(DiagId.PACK_BUS_OFF, PACK, False, now_s)
            self.engine.observe(DiagId.PACK_BUS_ERROR_PASSIVE, PACK, False, now_s)

    def contactors(self, command: Contactors, feedback: ContactorFeedback,
                   command_changed_s: list[float], now_s: float) -> None:
        """The auxiliary contacts against the command, once each has had time to settle;
        and the fuse."""
        settle = self.settings.contactors.close_settle_s
        for index, name in enumerate(CONTACTOR_NAMES):
            if now_s - command_changed_s[index] < settle:
                continue
            wanted, actual = getattr(command, name), getattr(feedback.contactors, name)
            location = Location(None, index)
            self.engine.observe(DiagId.CONTACTOR_WELDED, location, actual and not wanted,
                                now_s)
            self.engine.observe(DiagId.CONTACTOR_FAILED_TO_CLOSE, location,
                                wanted and not actual, now_s)
        self.engine.observe(DiagId.FUSE_BLOWN, PACK, feedback.fuse_blown, now_s)

    # --- per period -----------------------------------------------------------------------

    def starting(self, now_s: float) -> bool:
        """Within the start-up grace: peers not heard yet are not missing yet."""
        return now_s - self.start_s < self.settings.master.startup_grace_s

    def links(self, registry: SlaveRegistry, now_s: float) -> None:
        """Every module's link: lost (or never heard after the grace), stale."""
        # the common case, every control period: every module online, nothing pending at any
        if registry.all_online() and not self.engine.any_module_has_state():
            return
        starting = self.starting(now_s)
        for module_id, link in enumerate(registry.links):
            if link.state is LinkState.ONLINE and not self.engine.module_has_state(module_id):
                continue  # nothing to observe, nothing to clear
            location = self._locations[module_id]
            waiting_too_long = link.state is LinkState.WAITING and not starting
            self.engine.observe(DiagId.SLAVE_LOST, location,
                                link.state is LinkState.LOST or waiting_too_long, now_s)
            self.engine.observe(DiagId.SLAVE_STALE, location,
                                link.state in (LinkState.STALE, LinkState.LOST), now_s)

    def peers(self, current_at_s: float | None, current_counter_at_s: float | None,
              feedback_at_s: float | None, vcu_at_s: float | None, now_s: float) -> None:
        """Silence of the current sensor (or its frozen alive counter), the contactor box
        and the VCU: each given as when it was last heard (None: never)."""
        m = self.settings.master
        starting = self.starting(now_s)
        self.engine.observe(DiagId.CURRENT_SENSOR_LOST, PACK, _silent(
            current_at_s, m.current_timeout_s, starting, now_s) or (
            current_counter_at_s is not None and
            now_s - current_counter_at_s > m.current_counter_timeout_s), now_s)
        self.engine.observe(DiagId.CONTACTOR_FEEDBACK_LOST, PACK, _silent(
            feedback_at_s, self.settings.contactors.feedback_timeout_s, starting, now_s),
            now_s)
        if m.vcu_heartbeat_timeout_s > 0 and self.settings.endpoints.vcu:
            self.engine.observe(DiagId.VCU_LOST, PACK, _silent(
                vcu_at_s, m.vcu_heartbeat_timeout_s, starting, now_s), now_s)

    def endpoints(self, observations: Iterable[tuple[DiagId, bool]], now_s: float) -> None:
        """The charger's and the inverter's own observations (silence, their faults)."""
        for entry, violated in observations:
            self.engine.observe(entry, PACK, violated, now_s)

    def precharge(self, failed: bool, now_s: float) -> None:
        self.engine.observe(DiagId.PRECHARGE_FAILED, PACK, failed, now_s)

    def sensor_setup(self, failed: bool, now_s: float) -> None:
        """The current sensor's configuration at start (`master/sensor_setup.py`)."""
        self.engine.observe(DiagId.CURRENT_SENSOR_SETUP_FAILED, PACK, failed, now_s)

    def current_response(self, current_a: float | None,
                         module_means_mv: list[float | None], now_s: float) -> None:
        """Every module's cells answer a swing of the pack current like the others'."""
        verdicts = self._current_response.sample(current_a, module_means_mv, now_s)
        for module, ignores in enumerate(verdicts or ()):
            self.engine.observe(DiagId.SLAVE_IGNORES_CURRENT, self._locations[module],
                                ignores, now_s)

    @property
    def watches_current_response(self) -> bool:
        return self._current_response.active


def _silent(heard_s: float | None, timeout_s: float, starting: bool, now_s: float) -> bool:
    """Never heard once the grace is over, or not for longer than ``timeout_s``."""
    if heard_s is None:
        return not starting
    return now_s - heard_s > timeout_s
