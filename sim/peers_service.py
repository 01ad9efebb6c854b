"""The simulated HV box, VCU, charger and inverter as processes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from bms.can_port import CanPort
from bms.service import write_json_atomically
from bms.settings import Settings, bus_kwargs, inverter_bus
from bms.ticks import ticks
from dbc.contactor_auth import key_from_environment
from sim.charger import ChargerSim
from sim.hv_box import HvBox
from sim.inverters import make_inverter_sim
from sim.vcu import PeerOutputs, VcuSim

log = logging.getLogger(__name__)


async def run_hv_box(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "pack"), "pack/hv-box") as pack, \
            CanPort(bus_kwargs(settings, "sim"), "sim/hv-box") as sim:
        box = HvBox(settings, loop.time())
        box.use_key(key_from_environment(settings.contactors.auth_key_env))
        pack.subscribe(box.on_pack_frame, box.wanted_ids)
        sim.subscribe(box.on_sim_frame)
        log.info("HV box up (contactors, precharge, DC link, IVT-S sensor)")

        async def physics() -> None:
            async for now in ticks(settings.sim.current_sensor.current_period_s):
                for frame in box.tick(now):
                    pack.send(frame)

        async with asyncio.TaskGroup() as group:
            group.create_task(physics(), name="physics")
            group.create_task(pack.failed(), name="pack-bus-subscribers")
            group.create_task(sim.failed(), name="sim-bus-subscribers")


async def run_vcu(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "vehicle"), "vehicle/vcu") as vehicle, \
            CanPort(bus_kwargs(settings, "sim"), "sim/vcu") as sim:
        vcu = VcuSim(settings, loop.time())
        vehicle.subscribe(vcu.on_vehicle_frame)
        sim.subscribe(vcu.on_sim_frame)
        log.info("VCU up: will request %s after %.1f s", settings.sim.vcu.request,
                 settings.sim.vcu.start_delay_s)

        async def drive() -> None:
            async for now in ticks(settings.sim.vcu.period_s):
                out = vcu.tick(now)
                for frame in out.vehicle:
                    vehicle.send(frame)
                for frame in out.sim:
                    sim.send(frame)
                for _, status in vcu.status_changes:
                    log.info("BMS %s, contactors %s, fault reason %d, faults %s",
                             status.state.name, status.contactors, status.fault_reason,
                             sorted(status.fault_groups) or "-")
                vcu.status_changes.clear()

        async with asyncio.TaskGroup() as group:
            group.create_task(drive(), name="drive")
            group.create_task(vehicle.failed(), name="vehicle-bus-subscribers")
            group.create_task(sim.failed(), name="sim-bus-subscribers")


async def _run_peer(tick: Callable[[float], PeerOutputs], period_s: float,
                    vehicle: CanPort, sim: CanPort, *ports: CanPort) -> None:
    async def run() -> None:
        async for now in ticks(period_s):
            out = tick(now)
            for frame in out.vehicle:
                vehicle.send(frame)
            for frame in out.sim:
                sim.send(frame)

    async with asyncio.TaskGroup() as group:
        group.create_task(run(), name="peer")
        for port in (vehicle, sim, *ports):
            group.create_task(port.failed(), name=f"{port.name}-subscribers")


async def run_charger(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    async with CanPort(bus_kwargs(settings, "vehicle"), "vehicle/charger") as vehicle, \
            CanPort(bus_kwargs(settings, "sim"), "sim/charger") as sim, \
            CanPort(bus_kwargs(settings, "pack"), "pack/charger-plant") as pack:
        charger = ChargerSim(settings, loop.time())
        vehicle.subscribe(charger.on_vehicle_frame)
        sim.subscribe(charger.on_sim_frame)
        pack.subscribe(charger.on_pack_frame, charger.wanted_pack_ids)
        s = settings.sim.charger
        log.info("charger up: Elcon/TC at 0x%02X, %.0f W, %.0f A", charger.address,
                 s.max_power_w, s.max_current_a)
        await _run_peer(charger.tick, s.output_period_s, vehicle, sim, pack)


async def run_inverter(settings: Settings, stats_path: Path | None = None) -> None:
    """The inverter of endpoints.inverter's protocol on the inverter's bus (the vehicle bus
    in a pack without a VCU); its counters into ``stats_path`` when it stops."""
    loop = asyncio.get_running_loop()
    bus = inverter_bus(settings) or "inverter"
    async with CanPort(bus_kwargs(settings, bus), f"{bus}/inverter") as port, \
            CanPort(bus_kwargs(settings, "sim"), "sim/inverter") as sim:
        inverter = make_inverter_sim(settings, loop.time())
        port.subscribe(inverter.on_frame)
        log.info("inverter up: %s on the %s bus, profile of %d steps",
                 settings.endpoints.inverter, bus, len(settings.sim.inverter.profile))
        try:
            await _run_peer(inverter.tick, settings.sim.inverter.output_period_s, port, sim)
        finally:
            stats = dataclasses.asdict(inverter.statistics) | {
                "protocol": settings.endpoints.inverter, "bus": bus, "ready": inverter.ready()}
            log.info("inverter: %s", stats)
            if stats_path is not None:
                write_json_atomically(stats_path, stats)
