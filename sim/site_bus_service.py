"""`bms sim site-bus`: the DC side of the virtual site as one process. Every pack's HV box in
shared-bus mode on one DC bus (sim/site_plant.py, sim/dc_bus.py) behind the site's
simulated inverter: each box on its own pack's pack bus and simulation bus (as `bms sim
hv-box` is for one pack), the inverter on the site's inverter bus, talking to `bms site`.

Each pack's source is read from outside its cells (sim/sensed_cells.py: the slaves'
terminal voltages less their current through the cells' R0); every step (the current
sensor's period) the bus settles the currents, each box's sensor reports its pack's and the
slaves' cells follow it. The inverter moves its profile's current within the limits the site
sends (nothing while no pack is closed onto the bus), its profile from the moment it first
has them. The counters of the inverter, of each
box and of the bus go to ``--stats-file`` when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bms.can_port import CanPort
from bms.service import write_json_atomically
from bms.settings import Settings, bus_kwargs, inverter_bus
from bms.ticks import ticks
from dbc.contactor_auth import key_from_environment
from sim.dc_bus import BranchMode, BusStep
from sim.hv_box import HvBox
from sim.inverters import make_inverter_sim
from sim.sensed_cells import SensedCells
from sim.site_plant import SitePlant, bus_of_boxes

log = logging.getLogger(__name__)

UF_PER_F: Final = 1e6
# an HV hybrid inverter's DC input capacitors (a few mF for 10 kW); on the bus with the
# boxes' DC links
INVERTER_INPUT_UF: Final = 2000.0


@dataclass
class BranchStatistics:
    max_charge_a: float = 0.0
    max_discharge_a: float = 0.0
    closed_s: float = 0.0
    closings: int = 0  # open or precharge -> closed
    fuse_blown: bool = False
    refused_closes: int = 0


@dataclass
class BusStatistics:
    steps: int = 0
    max_voltage_v: float = 0.0
    min_live_voltage_v: float = math.inf  # while a pack is closed onto it
    max_inverter_charge_a: float = 0.0
    max_inverter_discharge_a: float = 0.0
    branches: dict[str, BranchStatistics] = field(default_factory=dict)

    def take(self, names: list[str], modes: list[BranchMode], result: BusStep,
             dt_s: float, boxes: list[HvBox]) -> None:
        self.steps += 1
        self.max_voltage_v = max(self.max_voltage_v, result.bus_voltage_v)
        if BranchMode.CLOSED in modes:
            self.min_live_voltage_v = min(self.min_live_voltage_v, result.bus_voltage_v)
        moved_a = result.inverter_current_a
        self.max_inverter_charge_a = max(self.max_inverter_charge_a, moved_a)
        self.max_inverter_discharge_a = max(self.max_inverter_discharge_a, -moved_a)
        for name, mode, current_a, box in zip(names, modes, result.currents_a, boxes,
                                              strict=True):
            branch = self.branches.setdefault(name, BranchStatistics())
            branch.max_charge_a = max(branch.max_charge_a, current_a)
            branch.max_discharge_a = max(branch.max_discharge_a, -current_a)
            branch.fuse_blown, branch.refused_closes = box.fuse_blown, box.refused_closes
            if mode is BranchMode.CLOSED:
                branch.closed_s += dt_s

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not math.isfinite(self.min_live_voltage_v):
            data["min_live_voltage_v"] = None
        return data


@dataclass
class _Member:
    name: str
    settings: Settings
    box: HvBox
    cells: SensedCells
    pack: CanPort
    sim: CanPort
    mode: BranchMode = BranchMode.OPEN


async def _open_member(stack: contextlib.AsyncExitStack, name: str, settings: Settings,
                       now_s: float) -> _Member:
    pack = await stack.enter_async_context(
        CanPort(bus_kwargs(settings, "pack"), f"{name}/pack/site-bus"))
    sim = await stack.enter_async_context(
        CanPort(bus_kwargs(settings, "sim"), f"{name}/sim/site-bus"))
    box = HvBox(settings, now_s)
    box.use_key(key_from_environment(settings.contactors.auth_key_env))
    box.join_shared_bus()
    cells = SensedCells(settings, lambda: box.current_a)
    pack.subscribe(box.on_pack_frame, box.wanted_ids)
    pack.subscribe(cells.on_frame, cells.wanted_ids)
    sim.subscribe(box.on_sim_frame)
    return _Member(name, settings, box, cells, pack, sim)


async def run_site_bus(site: Settings, packs: Mapping[str, Settings],
                       stats_path: Path | None = None) -> None:
    """Until cancelled; ``packs``: each pack's name and settings, in the site's order."""
    loop = asyncio.get_running_loop()
    where = inverter_bus(site) or "inverter"
    statistics = BusStatistics()
    async with contextlib.AsyncExitStack() as stack:
        now_s = loop.time()
        members = [await _open_member(stack, name, settings, now_s)
                   for name, settings in packs.items()]
        port = await stack.enter_async_context(
            CanPort(bus_kwargs(site, where), f"{where}/site-inverter"))
        inverter = make_inverter_sim(site, now_s)
        port.subscribe(inverter.on_frame)
        boxes = [m.box for m in members]
        plant = SitePlant(bus_of_boxes(boxes, INVERTER_INPUT_UF / UF_PER_F),
                          [(m.box, m.cells) for m in members], now_s)
        step_s = min(m.settings.sim.current_sensor.current_period_s for m in members)
        log.info("site bus up: %d packs (%s), %s inverter on the %s bus, a step every %g s",
                 len(members), ", ".join(m.name for m in members), site.endpoints.inverter,
                 where, step_s)

        async def physics() -> None:
            last_s = loop.time()
            names = [m.name for m in members]
            profile_started = False
            async for now in ticks(step_s):
                if not profile_started and inverter.connected(now):
                    # the storage day begins when the inverter first has the battery, not
                    # when this process started: how long the packs take to come up and
                    # join does not shift which phase of the profile they meet
                    inverter.started_s, profile_started = now, True
                    log.info("the inverter has the battery's limits: its profile starts")
                for frame in inverter.tick(now).vehicle:
                    port.send(frame)
                result = plant.step(now, inverter.current_a)
                modes = [branch.mode for branch in plant.branches]
                for member, mode in zip(members, modes, strict=True):
                    if mode is not member.mode:
                        log.info("%s: %s onto the bus at %.1f V (its source %.1f V)",
                                 member.name, mode.value, result.bus_voltage_v,
                                 member.cells.raw_source_v())
                        if mode is BranchMode.CLOSED:
                            statistics.branches.setdefault(
                                member.name, BranchStatistics()).closings += 1
                        member.mode = mode
                statistics.take(names, modes, result, now - last_s, boxes)
                last_s = now
                for member in members:
                    for frame in member.box.tick(now):
                        member.pack.send(frame)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(physics(), name="physics")
                for m in members:
                    group.create_task(m.pack.failed(), name=f"{m.name}-pack-subscribers")
                    group.create_task(m.sim.failed(), name=f"{m.name}-sim-subscribers")
                group.create_task(port.failed(), name="inverter-subscribers")
        finally:
            stats = {"bus": statistics.as_dict(),
                     "inverter": dataclasses.asdict(inverter.statistics) | {
                         "protocol": site.endpoints.inverter, "bus": where,
                         "ready": inverter.ready()}}
            log.info("site bus: %s", stats)
            if stats_path is not None:
                write_json_atomically(stats_path, stats)
