"""The master process: the pure core on the pack, vehicle and inverter buses (the inverter's
the vehicle bus in a pack without a VCU), driven by its own timer.

Frames that complete a fatal debounce get their reaction (the contactor command) sent from
inside the receive callback; the control loop never waits on anything but the buses and its
timer. Whatever happens, the ``finally`` sends the command that opens every contactor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

import can

from bms.can_errors import CAN_ERR_FLAG
from bms.can_port import CanPort, KernelPeriodic
from bms.chemistry import cell_capacity_ah
from bms.service import set_realtime_priority, write_json_atomically
from bms.settings import Settings, bus_kwargs, inverter_bus
from bms.systemd import Notifier
from bms.ticks import ticks
from bms.timing import Schedule
from dbc.codec import CanFrame, pack_codec, vehicle_codec
from dbc.contactor_auth import key_from_environment
from dbc.errors import DbcError
from dbc.frames import ContactorFeedback
from master.blackbox import BlackBox, Capture, Recorded
from master.contactor_gpio import GpioContactors
from master.core import MasterCore, Outputs
from master.events import DiagnosisEvent
from master.persistence import SAFETY_KEY, freeze_frame, restore, safety_record, snapshot
from master.store import Store, StoreError
from master.store_writer import StoreWriter, stored
from master.telemetry.commands import apply_command, result_payload
from master.telemetry.home_assistant import HomeAssistant, PackDevice
from master.telemetry.payloads import (
    cells_payload,
    event_payload,
    limits_payload,
    state_payload,
)
from master.telemetry.publisher import InvalidCommand, TelemetryPublisher

log = logging.getLogger(__name__)
SAFE_STATE_REPEATS = 3  # the safe-state frame is sent more than once: it must get through
HEARTBEAT_LEASE_PERIODS = 5  # a hung master stops the kernel's heartbeat within 5 periods
LOOP_PERIODS_KEPT = 100_000


class MasterShell:
    def __init__(self, core: MasterCore, pack: CanPort, vehicle: CanPort,
                 gpio: GpioContactors | None = None, writer: StoreWriter | None = None,
                 telemetry: TelemetryPublisher | None = None,
                 inverter: CanPort | None = None) -> None:
        self.core = core
        self.writer = writer  # the SQLite store, if configured
        self.telemetry = telemetry  # MQTT, if enabled
        self.pack = pack
        self.vehicle = vehicle
        # the inverter's bus: a port of its own, or the vehicle bus's (a pack without a VCU)
        self.inverter = inverter if inverter is not None else vehicle
        self.inverter_bus = "inverter" if inverter is not None else "vehicle"
        self.gpio = gpio  # contactors on the master's own lines, if configured
        m = core.settings.master
        self.blackbox = BlackBox(m.blackbox_pre_s, m.blackbox_post_s) if m.blackbox_dir \
            else None
        self.blackbox_files: list[str] = []
        self.frozen = False  # set by the shutdown: `freeze`
        # the safety state as restored (or, without a store, as a fresh core has it)
        self._safety_saved: dict[str, object] = safety_record(core)
        self.heartbeat: KernelPeriodic | None = None
        self._heartbeat_content: object = None
        self._heartbeat_renewed_s = 0.0
        # the master's own share of a reaction: from the frame that completed the debounce
        # (or the tick that found a timeout) to the contactor command handed to the bus
        self.reactions: deque[tuple[str, float]] = deque(maxlen=1000)
        # the control loop's periods, last LOOP_PERIODS_KEPT ticks (jitter figures)
        self.loop_periods_s: deque[float] = deque(maxlen=LOOP_PERIODS_KEPT)

    def freeze(self) -> None:
        """From now on nothing the core decides reaches a bus or a line: the shutdown's
        safe state is the last word (frames still arriving would otherwise step the core,
        which once commanded main minus closed again after the safe state)."""
        self.frozen = True

    def send(self, out: Outputs, since: float) -> None:
        if self.frozen:
            return
        if self.gpio is not None:
            self.gpio.apply(self.core.machine.command)  # the coils before anything else
        for frame in out.pack:
            self.pack.send(frame)
        if out.reaction is not None:
            self.reactions.append((out.reaction.name.lower(), time.monotonic() - since))
            if self.blackbox is not None:
                self.blackbox.trigger(out.reaction.name.lower(), since, time.time())
        for frame in out.vehicle:
            self.vehicle.send(frame)
        for frame in out.inverter:
            self.inverter.send(frame)
        if self.blackbox is not None:
            now, wall = asyncio.get_running_loop().time(), time.time()
            for bus, frames in (("pack", out.pack), ("vehicle", out.vehicle),
                                (self.inverter_bus, out.inverter)):
                for frame in frames:
                    self.blackbox.record(bus, frame, now, wall)
        self.log_events()

    def _keep(self, bus: str, frame: CanFrame, now: float) -> None:
        """Into the black box, unless it is the master's own frame coming back."""
        if self.blackbox is None:
            return
        codecs = [pack_codec()] if bus == "pack" else [vehicle_codec()] if bus == "vehicle" \
            else []
        receiver = self.core.inverter_receiver
        if receiver is not None and bus == self.inverter_bus:
            codecs.append(receiver.codec)
        layout = None
        for codec in codecs:
            try:
                layout, _ = codec.lookup(frame.arbitration_id, frame.is_extended_id)
                break
            except DbcError:
                continue
        if layout is None or "Master" not in layout.senders:
            self.blackbox.record(bus, frame, now, time.time())

    def on_pack_frame(self, frame: CanFrame, now: float) -> None:
        if self.frozen:
            return
        self._keep("pack", frame, now)
        self.send(self.core.on_pack_frame(frame, now), now)

    def on_vehicle_frame(self, frame: CanFrame, now: float) -> None:
        if self.frozen:
            return
        self._keep("vehicle", frame, now)
        self.send(self.core.on_vehicle_frame(frame, now), now)

    def on_inverter_frame(self, frame: CanFrame, now: float) -> None:
        """A frame of the inverter's own bus (when it shares the vehicle bus, the core routes
        its frames from `on_vehicle_frame`)."""
        if self.frozen:
            return
        self._keep("inverter", frame, now)
        self.send(self.core.on_inverter_frame(frame, now), now)

    async def write_blackbox(self, capture: Capture) -> None:
        """Write a capture without holding up the control loop."""
        directory = Path(self.core.settings.master.blackbox_dir)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(capture.trigger_wall_s))
        path = directory / f"blackbox-{stamp}-{capture.reason}.log"
        try:
            await write_capture(path, capture)
        except OSError as exc:
            log.error("black box not written to %s: %s", path, exc)
            return
        self.blackbox_files.append(str(path))
        loop = asyncio.get_running_loop()
        self.core.note(f"black box: {path} ({len(capture.frames)} frames around "
                       f"{capture.reason})", loop.time())
        self.log_events()

    def on_pack_error(self, message: can.Message, now: float) -> None:
        log.warning("pack bus error frame: class 0x%X data %s", message.arbitration_id,
                    bytes(message.data).hex())
        if self.blackbox is not None:  # a bus-off trip's capture must carry the bus-off
            self.blackbox.record("pack", CanFrame(message.arbitration_id, bytes(message.data)),
                                 now, time.time(), is_error_frame=True)
        self.send(self.core.on_pack_bus_error(message.arbitration_id, bytes(message.data), now),
                  now)

    def start_kernel_heartbeat(self, now: float) -> None:
        """On SocketCAN the kernel sends the heartbeat, under a lease this loop renews."""
        period = self.core.settings.master.heartbeat_period_s
        self.heartbeat = self.pack.start_periodic(self.core.heartbeat_sequence(), period,
                                                  lease_s=HEARTBEAT_LEASE_PERIODS * period)
        if self.heartbeat is not None:
            self.core.kernel_heartbeat = True
            self._heartbeat_content = self.core.heartbeat()
            self._heartbeat_renewed_s = now
            log.info("heartbeat sent by the kernel's broadcast manager (lease %.2f s)",
                     self.heartbeat.lease_s)

    def read_gpio_feedback(self, now: float) -> None:
        """GPIO contactors: the auxiliary contacts, with U2 as the bus voltage."""
        if self.gpio is None:
            return
        contacts = self.gpio.feedback()
        if contacts is None:
            contacts = self.core.machine.command  # no feedback inputs: trust the outputs
        bus = self.core.bus_voltage_v
        self.core.on_contactor_feedback(
            ContactorFeedback(contacts, False, bus.value if bus is not None else 0.0), now)

    def tend_kernel_heartbeat(self, now: float) -> None:
        if self.heartbeat is None:
            return
        if self.core.heartbeat() != self._heartbeat_content:
            self._heartbeat_content = self.core.heartbeat()
            self.heartbeat.update(self.core.heartbeat_sequence())
        if now - self._heartbeat_renewed_s >= self.heartbeat.lease_s / 2:
            self.heartbeat.renew()
            self._heartbeat_renewed_s = now

    def log_events(self) -> None:
        events = self.core.drain_events()
        for event in events:
            log.info("%.3f %s", event.time_s, event.describe())
        if self.writer is not None and events:
            wall = time.time()
            now = asyncio.get_running_loop().time()
            freeze = freeze_frame(self.core.report(now)) \
                if any(isinstance(e, DiagnosisEvent) for e in events) else None
            self.writer.events([stored(e, wall, freeze if isinstance(e, DiagnosisEvent)
                                       else None) for e in events])
            self.save_safety()

    def save_safety(self) -> None:
        """ERROR, its cause and the latched entries, stored as soon as they change (with the
        events that changed them): a restart restores them instead of forgetting them."""
        record = safety_record(self.core)
        if self.writer is not None and record != self._safety_saved:
            self.writer.snapshot({SAFETY_KEY: record})
            self._safety_saved = record

    def save_snapshot(self) -> None:
        if self.writer is not None:
            self.writer.snapshot(snapshot(self.core))

    def publish_state(self, now: float) -> None:
        """The state through the outbox (never lost); cells, limits and Home Assistant's
        JSON state (when on) live."""
        telemetry, writer = self.telemetry, self.writer
        if telemetry is None or writer is None:
            return
        wall = time.time()
        report = self.core.report(now)
        writer.publish(telemetry.topics.state, state_payload(report, wall))
        telemetry.live(telemetry.topics.cells, cells_payload(report, wall))
        telemetry.live(telemetry.topics.limits, limits_payload(report, wall))
        home_assistant = telemetry.home_assistant
        if home_assistant is not None:
            telemetry.live(home_assistant.state_topic, home_assistant.state_payload(report, wall))

    def take_commands(self, now: float) -> None:
        """Operator commands from MQTT, as requests to the core; each gets its result."""
        if self.telemetry is None:
            return
        commands = self.telemetry.take_commands()
        for command in commands:
            try:
                refused = f"invalid: {command.reason}" if isinstance(command, InvalidCommand) \
                    else command.expired(time.time()) or apply_command(self.core, command, now)
            except Exception:  # the control loop outlives any command
                log.exception("MQTT command %s not applied", command.id or "-")
                refused = "not applied: an internal error (logged by the master)"
            log.info("MQTT command %s: %s", command.id or "-", refused or "accepted")
            self.telemetry.result(result_payload(command.id, refused, time.time()))
        if commands:
            self.log_events()  # the notes the commands left


async def run_master(settings: Settings, stats_path: Path | None = None) -> None:
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "pack"), "pack") as pack, \
            CanPort(bus_kwargs(settings, "vehicle"), "vehicle") as vehicle, \
            contextlib.AsyncExitStack() as stack:
        inverter = await stack.enter_async_context(
            CanPort(bus_kwargs(settings, "inverter"), "inverter")) \
            if inverter_bus(settings) == "inverter" else None
        core = MasterCore(settings, loop.time())
        core.contactor_key = key_from_environment(settings.contactors.auth_key_env)
        if core.contactor_key is not None:
            log.info("contactor commands authenticated (key from $%s)",
                     settings.contactors.auth_key_env)
        telemetry = TelemetryPublisher(settings.mqtt, settings.pack.name,
                                       Path(settings.master.store_path),
                                       home_assistant_of(settings)) \
            if settings.mqtt.enabled else None
        writer = open_store(core, telemetry, loop.time())
        gpio = GpioContactors(settings.contactors.gpio) \
            if settings.contactors.driver == "gpio" else None
        shell = MasterShell(core, pack, vehicle, gpio, writer, telemetry, inverter)
        if telemetry is not None:
            telemetry.start()
        pack.subscribe(shell.on_pack_frame)
        pack.subscribe_errors(shell.on_pack_error)
        vehicle.subscribe(shell.on_vehicle_frame)
        if inverter is not None:
            inverter.subscribe(shell.on_inverter_frame)
        shell.start_kernel_heartbeat(loop.time())
        log.info("master up: %d modules x %d cells, %s", settings.pack.modules,
                 settings.pack.cells_per_module,
                 set_realtime_priority(settings.master.realtime_priority))
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_control_loop(shell, settings, group), name="control-loop")
                group.create_task(pack.failed(), name="pack-bus-subscribers")
                group.create_task(vehicle.failed(), name="vehicle-bus-subscribers")
                if inverter is not None:
                    group.create_task(inverter.failed(), name="inverter-bus-subscribers")
        finally:
            shell.freeze()  # the core decides nothing more
            if gpio is not None:
                gpio.close()  # the coils drop first
            if shell.heartbeat is not None:
                shell.heartbeat.stop()
            for _ in range(SAFE_STATE_REPEATS):
                pack.send(core.safe_state_frame())
            log.info("contactors commanded open (shutdown)")
            await close_within_budget(shell, stats_path)


def home_assistant_of(settings: Settings) -> HomeAssistant | None:
    """Home Assistant's view of the pack, if ``mqtt.home_assistant``."""
    if not settings.mqtt.home_assistant:
        return None
    pack = settings.pack
    device = PackDevice(pack.name, pack.modules, pack.cells_per_module, pack.chemistry.value,
                        cell_capacity_ah(settings))
    return HomeAssistant(device, settings.mqtt.prefix, settings.mqtt.home_assistant_prefix,
                         settings.mqtt.state_period_s)


# The launcher kills a child that has not stopped 5 s after SIGTERM (sim/launcher.py), as
# systemd does after TimeoutStopSec: the shutdown fits inside, whatever the disk does.
STORE_CLOSE_S = 2.5
TELEMETRY_STOP_S = 1.0


async def close_within_budget(shell: MasterShell, stats_path: Path | None) -> None:
    """The store and MQTT closed within STORE_CLOSE_S + TELEMETRY_STOP_S; what could not be
    stored is counted in the log and in the statistics, written before and after."""
    def statistics() -> None:
        if stats_path is not None:
            with contextlib.suppress(OSError):
                write_json_atomically(stats_path, master_statistics(shell))

    writer, telemetry = shell.writer, shell.telemetry
    if writer is not None:
        shell.log_events()
        shell.save_snapshot()
    statistics()  # first: a kill during the close still leaves them
    if writer is not None:
        await asyncio.to_thread(writer.close, STORE_CLOSE_S)
        waiting = writer.waiting()
        if waiting:
            log.error("store: %d events and %d messages not stored at shutdown", *waiting)
    if telemetry is not None:
        await asyncio.to_thread(telemetry.stop, TELEMETRY_STOP_S)
    statistics()


def open_store(core: MasterCore, telemetry: TelemetryPublisher | None = None,
               now_s: float = 0.0) -> StoreWriter | None:
    """The store of ``master.store_path`` with its state restored into the core; None
    without one (or when it cannot be opened: the master runs on, without persistence).
    With telemetry, every event also goes into the store's MQTT outbox."""
    path = core.settings.master.store_path
    if not path:
        return None
    try:
        store = Store.open(Path(path), max_events=core.settings.master.store_max_events)
    except StoreError as exc:
        log.error("store not available, running without persistence: %s", exc)
        return None
    for note in restore(core, store, now_s):
        log.info("store: %s", note)
    log.info("store: %s (events and state)", path)
    if telemetry is None:
        return StoreWriter(store)
    topics = telemetry.topics
    return StoreWriter(store, outbox=lambda event: (topics.events, event_payload(event)),
                       on_commit=telemetry.notify,
                       keep_per_topic=core.settings.mqtt.outbox_max_state_messages)


async def _control_loop(shell: MasterShell, settings: Settings,
                        group: asyncio.TaskGroup) -> None:
    systemd = Notifier()
    start = asyncio.get_running_loop().time()
    snapshots = Schedule(settings.master.store_snapshot_period_s, start)
    telemetry = Schedule(settings.mqtt.state_period_s, start)
    last = None
    async for now in ticks(settings.master.tick_period_s):
        if last is not None:
            shell.loop_periods_s.append(now - last)
        last = now
        systemd.alive(now)  # a stalled loop stops the watchdog: systemd restarts the master
        shell.read_gpio_feedback(now)
        shell.send(shell.core.tick(now), now)
        shell.tend_kernel_heartbeat(now)
        if snapshots.due(now):
            shell.save_snapshot()
        shell.take_commands(now)
        if telemetry.due(now):
            shell.publish_state(now)
        if shell.blackbox is not None:
            for capture in shell.blackbox.due(now):
                group.create_task(shell.write_blackbox(capture), name="black-box")


# Frames written between two turns of the event loop. A capture of a busy bus holds 40,000
# frames; written by a thread it held the GIL for a quarter of a second (ticks of 260 to
# 300 ms, then false slave_lost on every module); written on the loop in chunks of this many
# (about 2 ms each), the ticks and the frames go first.
CAPTURE_CHUNK_FRAMES = 256


async def write_capture(path: Path, capture: Capture,
                        chunk: int = CAPTURE_CHUNK_FRAMES) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with can.Logger(str(path)) as writer:
        for start in range(0, len(capture.frames), chunk):
            for recorded in capture.frames[start:start + chunk]:
                writer.on_message_received(_message(recorded))
            await asyncio.sleep(0)  # the control loop's turn


def _message(recorded: Recorded) -> can.Message:
    frame = recorded.frame
    if recorded.is_error_frame:
        # as candump writes it, error class in the id (python-can's writer would write
        # every error frame as a plain bus error)
        return can.Message(timestamp=recorded.wall_s,
                           arbitration_id=CAN_ERR_FLAG | frame.arbitration_id,
                           data=frame.data, is_extended_id=True, channel=recorded.bus)
    return can.Message(timestamp=recorded.wall_s, arbitration_id=frame.arbitration_id,
                       data=frame.data, is_extended_id=frame.is_extended_id,
                       channel=recorded.bus)


def master_statistics(shell: MasterShell) -> dict[str, Any]:
    core = shell.core
    per_module = {}
    for module_id in range(core.modules):
        e2e = core.receiver.statistics_of_module(module_id)
        link = core.registry.links[module_id]
        per_module[str(module_id)] = {
            "link": link.state.value,
            "valid_frames": link.valid_frames,
            "e2e_errors": e2e.errors,
            "e2e_lost_frames": e2e.lost_frames,
            "e2e": {status.value: n for status, n in e2e.counts.items()},
        }
    return {
        "role": "master",
        "state": core.state.name,
        "cpu_time_s": time.process_time(),
        "frames_received": core.statistics.frames_received,
        "frames_by_message": dict(core.receiver.decoded),
        "frames_not_for_master": core.receiver.not_for_node,
        "decode_failures": {f.value: n for f, n in core.receiver.failures.items()},
        "pack_port": vars(shell.pack.statistics),
        "vehicle_port": vars(shell.vehicle.statistics),
        "inverter_port": vars(shell.inverter.statistics)
        if shell.inverter is not shell.vehicle else None,
        "inverter_frames": dict(core.inverter_receiver.decoded)
        if core.inverter_receiver is not None else None,
        "modules": per_module,
        "event_counts": core.statistics.event_counts,
        "events": [event.describe() for event in core.statistics.events],
        "timed_events": [[event.time_s, event.describe()] for event in core.statistics.events],
        "reactions": [{"cause": cause, "master_share_s": s} for cause, s in shell.reactions],
        "loop_periods_s": list(shell.loop_periods_s),
        "blackbox_files": shell.blackbox_files,
        "store": vars(shell.writer.statistics) | {
            "pending": len(shell.writer.statistics.pending),
            "waiting_events": shell.writer.waiting()[0],
            "pending_messages": len(shell.writer.statistics.pending_messages)}
        if shell.writer is not None else None,
        "mqtt": vars(shell.telemetry.statistics) if shell.telemetry is not None else None,
    }
