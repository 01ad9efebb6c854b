"""The master's shell: a black-box capture of a busy bus is written without holding up the
control loop, and reads back whole."""

import asyncio
from pathlib import Path

import can

from dbc.codec import CanFrame
from master.blackbox import Capture, Recorded
from master.service import CAPTURE_CHUNK_FRAMES, write_capture

FRAMES = 40_000  # a trip on a busy bus (a 32 x 18 pack's 12 s window holds about 25,000)


async def test_a_large_capture_lets_the_loop_run_between_chunks(tmp_path: Path) -> None:
    capture = Capture("cell_overvoltage_msl", 1.0, 1000.0, tuple(
        Recorded(i * 0.0003, 1000.0 + i * 0.0003, "pack",
                 CanFrame(0x620 + i % 8, bytes([i % 256] * 8))) for i in range(FRAMES)))
    turns = 0
    done = asyncio.Event()

    async def control_loop() -> None:  # counts the turns it gets while the capture is written
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(control_loop())
    await asyncio.sleep(0)
    await write_capture(tmp_path / "bb.log", capture)
    done.set()
    await ticker
    # a thread held the GIL for the whole capture; now the loop runs after every chunk
    assert turns >= FRAMES // CAPTURE_CHUNK_FRAMES
    logged = list(can.LogReader(str(tmp_path / "bb.log")))
    assert len(logged) == FRAMES
    assert [m.arbitration_id for m in logged[:3]] == [0x620, 0x621, 0x622]
