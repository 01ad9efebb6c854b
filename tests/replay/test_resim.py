"""Re-simulation of the master from logs: the trip at the right time, deterministic, and
--compare that finds nothing to report on the true log and reports a changed limit."""

import asyncio
from pathlib import Path

import pytest

from bms.can_errors import CAN_ERR_BUSOFF
from bms.settings import load_settings
from dbc.codec import CanFrame, pack_codec
from dbc.frames import CellVoltages, MasterState
from dbc.sim_frames import CellQuantity, InjectCell
from master.blackbox import BlackBox
from master.service import write_capture
from replay.logfile import read_log
from replay.resim import compare, resimulate
from sim.lockstep import LockstepPack
from tests.replay.logs import lockstep_log

SETTINGS = ["pack.modules=2"]
RAMP_START_S = 4.0
RAMP_MV_PER_S = 25.0


def drift(pack: LockstepPack) -> None:
    """Cell 3 of module 1 reads ever higher from 4.2 V on (once per measurement)."""
    t = pack.now_s
    if t >= RAMP_START_S and abs(t * 10 - round(t * 10)) < 1e-6:
        mv = 4200.0 + (t - RAMP_START_S) * RAMP_MV_PER_S
        pack.inject(InjectCell(1, 3, CellQuantity.VOLTAGE, round(mv, 1)))


@pytest.fixture(scope="module")
def drifting_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("resim") / "drift.log"
    pack = lockstep_log(path, load_settings(None, SETTINGS), seconds=9.0, script=drift)
    assert pack.master.state is MasterState.ERROR  # the real (lockstep) master tripped
    return path


def expected_trip_s(path: Path, limit_mv: float, debounce: int) -> float:
    """The time of the reading that completes the debounce, straight from the log."""
    over = []
    for logged in read_log(path):
        frame = logged.frame
        if logged.channel != "pack" or frame.arbitration_id != 0x620 + 1:
            continue
        decoded = pack_codec().decode(CanFrame(frame.arbitration_id, frame.data)).frame
        assert isinstance(decoded, CellVoltages)
        if decoded.first_cell == 0 and (decoded.voltages_mv[3] or 0) > limit_mv:
            over.append(logged.time_s)
    return over[debounce - 1]


def trip_s(path: Path, *overrides: str) -> float:
    result = resimulate(read_log(path), load_settings(None, [*SETTINGS, *overrides]))
    (first,) = [d for d in result.timeline
                if d.text.startswith("cell_overvoltage_msl set")][:1]
    return first.time_s


def test_the_trip_happens_at_the_reading_that_completes_the_debounce(drifting_log: Path) -> None:
    assert trip_s(drifting_log) == pytest.approx(expected_trip_s(drifting_log, 4250, 3))


def test_a_changed_limit_moves_the_trip(drifting_log: Path) -> None:
    moved = trip_s(drifting_log, "limits.cell_overvoltage_mv=[4150,4200,4300]")
    assert moved == pytest.approx(expected_trip_s(drifting_log, 4300, 3))
    assert moved > trip_s(drifting_log) + 1.5  # 50 mV at 25 mV/s


def test_compare_finds_no_divergence_on_the_true_log(drifting_log: Path) -> None:
    result = resimulate(read_log(drifting_log), load_settings(None, SETTINGS))
    divergence, matched = compare(result.recorded, result.on_bus, tolerance_s=0.3)
    assert divergence is None
    assert matched >= 10
    assert {d.kind for d in result.recorded} >= {"state", "status", "contactors"}


def test_compare_reports_the_first_divergence_of_a_changed_limit(drifting_log: Path) -> None:
    result = resimulate(read_log(drifting_log), load_settings(
        None, [*SETTINGS, "limits.cell_overvoltage_mv=[4150,4200,4300]"]))
    divergence, _ = compare(result.recorded, result.on_bus, tolerance_s=0.3)
    assert divergence is not None
    assert divergence.recorded is not None
    assert divergence.time_s == pytest.approx(expected_trip_s(drifting_log, 4250, 3), abs=0.15)
    assert "CellOvervoltageMsl" in divergence.describe() or \
        "all open" in divergence.describe() or "main-" in divergence.describe()


def test_same_input_same_output(drifting_log: Path) -> None:
    settings = load_settings(None, SETTINGS)
    first = [d.line() for d in resimulate(read_log(drifting_log), settings).timeline]
    again = [d.line() for d in resimulate(read_log(drifting_log), settings).timeline]
    assert first == again
    assert any("state NORMAL -> ERROR" in line for line in first)


def test_a_black_box_capture_reproduces_the_trip(tmp_path: Path) -> None:
    settings = load_settings(None, SETTINGS)
    pack = LockstepPack(settings)
    box = BlackBox(pre_s=3.0, post_s=1.0)
    for bus in ("pack", "vehicle"):
        pack.wires.listen(bus, lambda frame, now, bus=bus: box.record(bus, frame, now, now))
    tripped_at = None
    while pack.now_s < 8.0:
        drift(pack)
        pack.step()
        if tripped_at is None and pack.master.state is MasterState.ERROR:
            tripped_at = pack.now_s
            box.trigger("cell_overvoltage_msl", pack.now_s, pack.now_s)
    assert tripped_at is not None
    (capture,) = box.due(pack.now_s)
    path = tmp_path / "blackbox.log"
    asyncio.run(write_capture(path, capture))
    frames = list(read_log(path))
    assert frames[-1].time_s - frames[0].time_s == pytest.approx(4.0, abs=0.05)
    # the capture starts with the pack running: the re-simulated master sees it from INIT
    # and still trips on the same cell, at the same moment of the file
    result = resimulate(iter(frames), settings)
    trips = [d for d in result.timeline if d.text.startswith("cell_overvoltage_msl set")]
    assert trips
    assert "module 1 #3" in trips[0].text
    assert trips[0].time_s == pytest.approx(3.0, abs=0.15)


def test_a_bus_off_capture_carries_the_bus_off_and_reproduces_the_trip(tmp_path: Path) -> None:
    """The black box keeps the pack bus's error frames with their class, and the capture is
    written the way candump writes them: the re-simulated master trips on the bus-off."""
    settings = load_settings(None, SETTINGS)
    pack = LockstepPack(settings)
    box = BlackBox(pre_s=3.0, post_s=1.0)
    for bus in ("pack", "vehicle"):
        pack.wires.listen(bus, lambda frame, now, bus=bus: box.record(bus, frame, now, now))
    while pack.master.state is not MasterState.NORMAL or pack.now_s < 5.0:
        pack.step()
    box.record("pack", CanFrame(CAN_ERR_BUSOFF, bytes(8)), pack.now_s, pack.now_s,
               is_error_frame=True)  # as MasterShell.on_pack_error does
    pack.error_frame(CAN_ERR_BUSOFF, bytes(8))
    assert pack.master.state is MasterState.ERROR
    box.trigger("pack_bus_off", pack.now_s, pack.now_s)
    tripped_at = pack.now_s
    while pack.now_s < tripped_at + 1.5:
        pack.step()
    (capture,) = box.due(pack.now_s)
    path = tmp_path / "blackbox.log"
    asyncio.run(write_capture(path, capture))
    errors = [f for f in read_log(path) if f.is_error_frame]
    assert [(f.frame.arbitration_id, f.channel) for f in errors] == [(CAN_ERR_BUSOFF, "pack")]
    result = resimulate(read_log(path), settings)
    trips = [d for d in result.timeline if d.text.startswith("pack_bus_off set")]
    assert trips
    assert trips[0].time_s == pytest.approx(errors[0].time_s, abs=1e-6)
    assert any("-> ERROR" in d.text for d in result.timeline if d.time_s >= trips[0].time_s)
