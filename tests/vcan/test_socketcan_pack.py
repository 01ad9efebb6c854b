"""The virtual pack on SocketCAN (vcan0 pack, vcan1 vehicle, vcan2 simulation bus), with the
configuration file the docker-compose services use, watched by an independent python-can
listener on vcan0 that also records a log with python-can's own `can.Logger`.

Runs where vcan0..vcan2 exist: a Linux host with the vcan module, or the guest kernel that
`./run test` boots (../shared/vcan-vm). BMS_VCAN_TIME_SCALE stretches every period there
(the guest's CPU is emulated); BMS_VCAN_RESULTS names a folder for the figures.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import can
import pytest

from bms.can_errors import CAN_ERR_BUSOFF
from bms.settings import load_settings
from dbc.codec import CanFrame, pack_codec, sim_codec, vehicle_codec
from dbc.endpoint import FrameReceiver
from dbc.frames import CellVoltages, ContactorCommand, MasterHeartbeat, MasterState
from dbc.sim_frames import CellQuantity, InjectCell
from dbc.vehicle_frames import BmsStatus
from testbed.startup import node_starts, pack_start_deadline

pytestmark = pytest.mark.vcan

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "packs" / "vcan-8x16-nmc.toml"
MODULES = 4
RUN_S = 20.0
SCALE = float(os.environ.get("BMS_VCAN_TIME_SCALE", "1"))
# the slowest master start-up (spawn to first frame) measured in a quiet guest at scale 3
# on the development machine (docs/benchmarks.md): beyond it the guest is starved
QUIET_GUEST_MASTER_START_S = 8.5


class Recorder(can.Listener):
    """Keeps every frame of a bus with its kernel timestamp."""

    def __init__(self) -> None:
        self.frames: list[can.Message] = []
        self.lock = threading.Lock()

    def on_message_received(self, msg: can.Message) -> None:
        with self.lock:
            self.frames.append(msg)

    def snapshot(self) -> list[can.Message]:
        with self.lock:
            return list(self.frames)


def last_status(vehicle: Recorder) -> BmsStatus | None:
    for msg in reversed(vehicle.snapshot()):
        if msg.arbitration_id == vehicle_codec().layout("BmsStatus").base_id:
            frame = vehicle_codec().decode(CanFrame(msg.arbitration_id, bytes(msg.data))).frame
            assert isinstance(frame, BmsStatus)
            return frame
    return None


async def wait_for(condition, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.1)


async def test_virtual_pack_on_socketcan(tmp_path: Path) -> None:
    # a slave's and a master's start-up measured here and now (emulated, they take 25 to
    # 30 x what they take on the host) give the start deadline and, in a starved guest (other
    # work on the host), a longer time scale: stretched by how much slower the master
    # started than in a quiet guest (docs/startup.md)
    starts = await node_starts({"interface": "socketcan", "channel": "vcan0"},
                               ["--config", str(CONFIG), "--set", f"pack.modules={MODULES}",
                                "--set", f"pack.time_scale={SCALE}"])
    scale = SCALE * max(1.0, starts.master_s / QUIET_GUEST_MASTER_START_S) if SCALE > 1 \
        else SCALE
    overrides = [f"pack.modules={MODULES}", f"pack.time_scale={scale:.2f}"]
    settings = load_settings(CONFIG, overrides)
    period = settings.slave.measurement_period_s
    config_args = ["--config", str(CONFIG), *itertools.chain(*(["--set", o] for o in overrides))]
    # the closing: the VCU's request, then every precharge try (scaled with the pack)
    closing_s = settings.contactors.precharge_timeout_s + 2 * settings.master.tick_period_s
    deadline = pack_start_deadline(settings, starts, closing_s, " and close")
    log_path = tmp_path / "vcan0.log"
    pack_bus = can.Bus(interface="socketcan", channel="vcan0", ignore_config=True)
    vehicle_bus = can.Bus(interface="socketcan", channel="vcan1", ignore_config=True)
    sim_bus = can.Bus(interface="socketcan", channel="vcan2", ignore_config=True)
    pack, vehicle = Recorder(), Recorder()
    logger = can.Logger(str(log_path))  # python-can's own writer (candump format)
    notifiers = [can.Notifier(pack_bus, [pack, logger]), can.Notifier(vehicle_bus, [vehicle])]
    started = time.monotonic()
    argv = [sys.executable, "-m", "bms", "pack", "--headless", "--no-web", "--keep-going",
            "--run-dir", str(tmp_path / "run"), *config_args]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        try:
            await wait_for(lambda: (s := last_status(vehicle)) is not None
                           and s.state is MasterState.NORMAL and s.contactors.main_plus,
                           deadline.seconds,
                           f"the contactors close on the VCU's request ({deadline})")
        except AssertionError as exc:  # say what the pack said and where it stood
            process.kill()
            said, _ = await process.communicate()
            raise AssertionError(f"{exc}; last BmsStatus {last_status(vehicle)}; "
                                 f"{len(pack.snapshot())} pack frames; the pack's output:\n"
                                 f"{said.decode(errors='replace')[-4000:]}") from exc
        online_s = time.monotonic() - started
        window_start = len(pack.snapshot())
        await asyncio.sleep(RUN_S)  # the measured window: the pack simply runs
        window = pack.snapshot()[window_start:]
        # an over-voltage on the simulation bus opens the contactors
        sim_bus.send(can.Message(arbitration_id=sim_codec().layout("SimInjectCell").base_id,
                                 data=sim_codec().encode(InjectCell(
                                     1, 3, CellQuantity.VOLTAGE, 4350.0, 0.0)).data,
                                 is_extended_id=False))
        await wait_for(lambda: (s := last_status(vehicle)) is not None
                       and s.state is MasterState.ERROR and not s.contactors.main_plus,
                       10 * scale, "the contactors open on the injected over-voltage")
        # a bus-off error frame on the pack bus is a fatal communication fault; it comes
        # from a socket of its own, as a socket never receives what it sent itself
        with can.Bus(interface="socketcan", channel="vcan0", ignore_config=True) as faulty:
            faulty.send(can.Message(is_error_frame=True, arbitration_id=CAN_ERR_BUSOFF,
                                    data=bytes(8), is_extended_id=False))
        await wait_for(lambda: (s := last_status(vehicle)) is not None
                       and "Bus" in s.fault_groups, 5 * scale, "bus-off reported as a fault")
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for notifier in notifiers:
            notifier.stop()
        logger.stop()
        for bus in (pack_bus, vehicle_bus, sim_bus):
            bus.shutdown()
    assert process.returncode in (0, 1), output.decode()

    # every module online, every cell refreshed at the configured period, no E2E error
    receiver = FrameReceiver(pack_codec(), settings.master.e2e_max_lost_frames, "Observer")
    refresh: dict[tuple[int, int], list[float]] = defaultdict(list)
    heartbeats: list[float] = []
    for msg in window:
        if msg.is_error_frame:
            continue
        reception = receiver.receive(CanFrame(msg.arbitration_id, bytes(msg.data)))
        if reception is None or reception.frame is None:
            continue
        if isinstance(reception.frame, CellVoltages):
            refresh[(reception.module_id, reception.frame.first_cell)].append(msg.timestamp)
        elif isinstance(reception.frame, MasterHeartbeat):
            heartbeats.append(msg.timestamp)
    groups = {(m, first) for m in range(MODULES) for first in range(0, 16, 4)}
    assert set(refresh) == groups, "a module or a cell group never reported"
    # a pause of the whole emulated machine (no frame at all for a measurement period: the
    # current sensor alone sends every 10 ms x the time scale) is the guest's, not the pack's:
    # refreshes across one are left out, as long as such pauses stay a small part of the window
    stamps = sorted(m.timestamp for m in window)
    paused = [(a, b) for a, b in itertools.pairwise(stamps) if b - a > period]
    paused_s = sum(b - a for a, b in paused)
    assert paused_s < 0.2 * RUN_S, f"the guest paused {paused_s:.1f} s of {RUN_S:g}"
    pairs = [(a, b, key) for key, times in refresh.items() for a, b in itertools.pairwise(times)
             if not any(a <= pa and pb <= b for pa, pb in paused)]
    intervals = sorted(b - a for a, b, _ in pairs)
    p99 = intervals[int(0.99 * (len(intervals) - 1))]
    assert statistics.median(intervals) == pytest.approx(period, rel=0.1)
    late = sorted(((b - a, a - window[0].timestamp, key) for a, b, key in pairs
                   if b - a >= 1.5 * period), reverse=True)
    assert p99 < 1.5 * period, (f"{len(late)} of {len(intervals)} refreshes late (the guest "
                                f"paused {len(paused)} times, {paused_s:.1f} s); the longest "
                                "(s, from the window's start, module and cell): "
                                + ", ".join(f"{d:.2f} at {t:.1f} {k}" for d, t, k in late[:8]))
    e2e = receiver.total_statistics()
    assert e2e.errors == 0
    stats = json.loads((tmp_path / "run" / "master.stats.json").read_text())
    assert sum(m["e2e_errors"] for m in stats["modules"].values()) == 0
    # the kernel sent the heartbeat, on time, with continuous alive counters
    master_log = (tmp_path / "run" / "master.log").read_text()
    assert "heartbeat sent by the kernel's broadcast manager" in master_log
    beat = [b - a for a, b in itertools.pairwise(heartbeats)]
    assert statistics.median(beat) == pytest.approx(settings.master.heartbeat_period_s, rel=0.1)
    assert any("pack_bus_off set" in event for event in stats["events"])
    assert any(isinstance(pack_codec().decode(CanFrame(m.arbitration_id, bytes(m.data))).frame,
                          ContactorCommand) for m in window if not m.is_error_frame)
    # python-can's own log reads back, and `bms log decode` decodes all of it
    logged = list(can.LogReader(str(log_path)))
    assert len(logged) >= len(window)
    assert sum(m.is_error_frame for m in logged) == 1  # the bus-off
    rows = decode_with_bms(log_path)
    assert len(rows) == len(logged)
    assert [r["problem"] for r in rows if r["problem"]] == ["error frame"]
    assert all(str(r["e2e"]).split("#")[0] in ("initial", "ok") for r in rows if r["e2e"])

    write_results({
        "time_scale": scale, "modules": MODULES, "online_after_s": online_s,
        "slave_start_s": starts.slave_s, "master_start_s": starts.master_s,
        "start_deadline_s": deadline.seconds,
        "window_s": RUN_S, "frames_per_s": len(window) / RUN_S,
        "cell_refresh_median_s": statistics.median(intervals),
        "cell_refresh_p99_s": p99, "guest_paused_s": paused_s, "e2e_errors": e2e.errors,
        "e2e_lost_frames": e2e.lost_frames, "frames_in_window": len(window),
        "heartbeat_median_s": statistics.median(beat),
    })


def decode_with_bms(log_path: Path) -> list[dict[str, object]]:
    decoded = subprocess.run([sys.executable, "-m", "bms", "log", "decode", str(log_path),
                              "--format", "jsonl"], capture_output=True, text=True,
                             timeout=600, check=True).stdout.splitlines()
    return [json.loads(line) for line in decoded]


def write_results(figures: dict[str, float]) -> None:
    results = os.environ.get("BMS_VCAN_RESULTS")
    if results:
        Path(results, "vcan-results.json").write_text(json.dumps(figures, indent=2))
