"""The master process: the pure core on the pack bus, driven by its own timer."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from bms.can_port import CanPort
from bms.service import write_json_atomically
from bms.settings import Settings, bus_kwargs
from bms.timing import ticks
from dbc.codec import pack_codec
from master.core import MasterCore

log = logging.getLogger(__name__)


async def run_master(settings: Settings, stats_path: Path | None = None) -> None:
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "pack"), "pack") as port:
        core = MasterCore(settings, pack_codec(), loop.time())
        port.subscribe(core.on_frame)
        log.info("master up: %d modules x %d cells on %s", settings.pack.modules,
                 settings.pack.cells_per_module, settings.bus.pack)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_control_loop(core, port, settings), name="control-loop")
                group.create_task(port.failed(), name="pack-bus-subscribers")
        finally:
            if stats_path is not None:
                write_json_atomically(stats_path, master_statistics(core, port))


async def _control_loop(core: MasterCore, port: CanPort, settings: Settings) -> None:
    async for now in ticks(settings.master.tick_period_s):
        for frame in core.tick(now):
            port.send(frame)


def master_statistics(core: MasterCore, port: CanPort) -> dict[str, Any]:
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
        "port": vars(port.statistics),
        "modules": per_module,
    }
