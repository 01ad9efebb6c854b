"""The simulated current sensor as a process on the pack bus."""

from __future__ import annotations

import asyncio
import logging

from bms.can_port import CanPort
from bms.settings import Settings, bus_kwargs
from bms.timing import ticks
from dbc.codec import pack_codec
from sim.current_sensor import CurrentSensorSim

log = logging.getLogger(__name__)


async def run_current_sensor(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "pack"), "pack/ivt") as port:
        sensor = CurrentSensorSim(settings, pack_codec(), loop.time())
        port.subscribe(sensor.on_frame)
        log.info("current sensor up, profile period %.1f s", sensor.profile.period_s)
        async with asyncio.TaskGroup() as group:
            group.create_task(_publish(sensor, port, settings), name="publish")
            group.create_task(port.failed(), name="pack-bus-subscribers")


async def _publish(sensor: CurrentSensorSim, port: CanPort, settings: Settings) -> None:
    async for now in ticks(settings.sim.current_sensor.current_period_s):
        for frame in sensor.tick(now):
            port.send(frame)
