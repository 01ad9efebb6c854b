"""Logs for the tests, made by the whole virtual pack on virtual time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import can

from bms.settings import Settings
from sim.lockstep import LockstepPack, WireFrame

EPOCH_S = 1_764_000_000.0  # a plausible wall-clock start for the logs


def write_wire(path: Path, frames: list[WireFrame], buses: tuple[str, ...] = ("pack", "vehicle")
               ) -> int:
    """Write wire frames as python-can's own Logger would, labelled with their bus."""
    count = 0
    with can.Logger(str(path)) as writer:
        for item in frames:
            if item.bus not in buses:
                continue
            channel: str | int = item.bus if path.suffix == ".log" else \
                {"pack": 1, "vehicle": 2, "sim": 3}[item.bus]
            writer.on_message_received(can.Message(
                timestamp=EPOCH_S + item.time_s, arbitration_id=item.frame.arbitration_id,
                data=item.frame.data, is_extended_id=item.frame.is_extended_id,
                channel=channel))
            count += 1
    return count


def lockstep_log(path: Path, settings: Settings, seconds: float,
                 script: Callable[[LockstepPack], None] | None = None,
                 buses: tuple[str, ...] = ("pack", "vehicle")) -> LockstepPack:
    """Run the pack for ``seconds``, calling ``script`` every step, and log it."""
    pack = LockstepPack(settings)
    frames: list[WireFrame] = []
    end = pack.now_s + seconds
    while pack.now_s < end - 1e-9:
        if script is not None:
            script(pack)
        frames += pack.step()
    write_wire(path, frames, buses)
    return pack
