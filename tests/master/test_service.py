"""The master's shell: a black-box capture of a busy bus is written without holding up the
control loop, and reads back whole; a frozen shell (the shutdown) lets nothing through."""

import asyncio
from pathlib import Path

import can

from bms.settings import load_settings
from dbc.codec import CanFrame, pack_codec
from dbc.frames import CellVoltages, ContactorCommand, MasterState
from master.blackbox import Capture, Recorded
from master.service import CAPTURE_CHUNK_FRAMES, MasterShell, write_capture
from sim.lockstep import LockstepPack

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


class FakePort:
    def __init__(self) -> None:
        self.sent: list[CanFrame] = []

    def send(self, frame: CanFrame) -> bool:
        self.sent.append(frame)
        return True


def normal_pack() -> LockstepPack:
    p = LockstepPack(load_settings(None, ["pack.modules=2"]))
    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    return p


def over_voltage_frames(pack: LockstepPack, count: int) -> list[CanFrame]:
    codec = pack_codec()
    return [codec.encode(CellVoltages(0, (4400, 3700, 3700, 3700)), 1, n % 15)
            for n in range(count)]


async def test_a_frozen_shell_passes_nothing_to_the_core_or_the_bus() -> None:
    """After the shutdown's safe state, frames still arriving stepped the core, which once
    commanded main minus closed again."""
    for frozen in (False, True):
        p = normal_pack()
        pack_port, vehicle_port = FakePort(), FakePort()
        shell = MasterShell(p.master, pack_port, vehicle_port)  # type: ignore[arg-type]
        if frozen:
            shell.freeze()
        loop = asyncio.get_running_loop()
        for frame in over_voltage_frames(p, 20):
            shell.on_pack_frame(frame, p.now_s)
            shell.send(p.master.tick(p.now_s), loop.time())
        commands = [f for f in pack_port.sent
                    if isinstance(pack_codec().decode(f).frame, ContactorCommand)]
        if frozen:  # nothing reached the core, nothing left the shell
            assert p.master.state is MasterState.NORMAL
            assert pack_port.sent == []
            assert vehicle_port.sent == []
        else:  # the control: the same frames trip an unfrozen shell
            assert p.master.state is MasterState.ERROR
            assert commands
