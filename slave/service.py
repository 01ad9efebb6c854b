"""The slave process: measure every period, send, obey balancing; bleeding off on exit.

With the simulated AFE it also listens to the virtual pack's simulation bus for injected
faults; a real slave never opens that bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bms.can_port import CanPort
from bms.service import write_json_atomically
from bms.settings import Settings, bus_kwargs
from bms.systemd import Notifier
from bms.ticks import ticks
from dbc.codec import pack_codec
from slave.afe.registry import create_afe
from slave.core import SlaveCore

if TYPE_CHECKING:
    from sim.slave_faults import SlaveFaults

log = logging.getLogger(__name__)


async def run_slave(settings: Settings, module_id: int, stats_path: Path | None = None) -> None:
    loop = asyncio.get_running_loop()
    afe = create_afe(settings, module_id, loop.time())
    faults: SlaveFaults | None = None
    if settings.slave.afe == "sim":  # a virtual slave: faults injected around it
        from sim.slave_faults import SlaveFaults

        faults = SlaveFaults(module_id, pack_codec())
        afe = faults.afe(afe)
    try:
        async with contextlib.AsyncExitStack() as stack:
            port = await stack.enter_async_context(
                CanPort(bus_kwargs(settings, "pack"), f"pack/m{module_id}"))
            core = SlaveCore(settings, module_id, afe, pack_codec(), loop.time())
            port.subscribe(core.on_frame, core.wanted_ids)
            if faults is not None:
                sim = await stack.enter_async_context(
                    CanPort(bus_kwargs(settings, "sim"), f"sim/m{module_id}"))
                sim.subscribe(faults.on_sim_frame, faults.wanted_sim_ids)
            log.info("slave %d up: %d cells, AFE %s", module_id, core.cells, settings.slave.afe)
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(_measure_loop(core, port, settings, faults),
                                      name="measure-loop")
                    group.create_task(port.failed(), name="pack-bus-subscribers")
            finally:
                core.shutdown()
                if stats_path is not None:
                    write_json_atomically(stats_path, {
                        "role": "slave", "module": module_id, "cpu_time_s": time.process_time(),
                        **dataclasses.asdict(core.statistics), "port": vars(port.statistics),
                    })
    finally:
        afe.close()


async def _measure_loop(core: SlaveCore, port: CanPort, settings: Settings,
                        faults: SlaveFaults | None) -> None:
    systemd = Notifier()
    async for now in ticks(settings.slave.measurement_period_s):
        systemd.alive(now)
        frames = core.tick(now)
        if faults is not None:
            frames = faults.wire(frames, now)
            if faults.kill_requested:
                log.warning("killed by fault injection")
                os.kill(os.getpid(), signal.SIGKILL)
        for frame in frames:
            port.send(frame)
