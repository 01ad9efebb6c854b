"""Soak and chaos: the virtual pack with MQTT for a given time, a random fault every 20 s.

A 4-module pack on udp_multicast with its master on the project's Mosquitto configuration
(the tests' broker, `testbed/brokers.py`). Every FAULT_EVERY_S one fault from the catalogue
below, in a shuffled order that covers every kind before it repeats: each kind `bms inject`
knows (cells, current, sensor, slaves, contactors, the VCU), a warning that must not open,
a broker restart that must change nothing, a slave process killed and restarted (what
systemd's Restart=always does). Each is checked for its reaction (ERROR and the expected
diagnosis entry in the store; a warning's entry and no ERROR) and for the return to NORMAL
after the VCU's fault reset (and the service reset, for latched entries).

Checked over the whole run: the master's RSS, sampled every minute, stays under
RSS_BOUND_MB and, after RSS_FILL_S (when its bounded journals are full), grows by at most
RSS_GROWTH_MB; every event in the store reached an MQTT subscriber with a persistent
session (through the broker restarts); the master's journal equals the store's last events.

`./run bench soak --seconds 3600` is the documented hour; `tests/sim/test_soak.py` runs it
for BMS_SOAK_S (150 s by default) in `./run test`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import msgpack

from bench.footprint import memory_mb
from dbc.frames import Frame, MasterState
from dbc.sim_frames import (
    CellQuantity,
    ContactorFault,
    ContactorId,
    InjectCell,
    InjectContactor,
    InjectCurrent,
    InjectSensor,
    InjectSlave,
    SensorFault,
    SlaveFault,
    VcuCommand,
    VcuCommandRequest,
)
from testbed.brokers import PASSWORDS, ProjectBroker, project_broker
from testbed.packs import RunningPack, finish, online_pack

FAULT_EVERY_S = 20.0
MODULES = 4
PACK = "soak"
REACTION_DEADLINE_S = 10.0
RECOVERY_DEADLINE_S = 30.0
RSS_BOUND_MB = 200.0
RSS_FILL_S = 1200.0  # the control loop's period journal (100,000 ticks) is full after 1000 s
RSS_GROWTH_MB = 8.0
BROKER_OUTAGE_S = 3.0


@dataclass(frozen=True)
class Fault:
    name: str  # as `bms inject` says it, or the soak's own (broker-restart, slave-restart)
    inject: tuple[Frame, ...] = ()
    entry: str | None = None  # the diagnosis entry it must set
    fatal: bool = True
    clear: tuple[Frame, ...] = ()  # what ends it, before the reset
    service_reset: bool = False  # a latched entry
    after_standby: tuple[Frame, ...] = ()  # sent once the master is in STANDBY
    kill_slave: int | None = None  # a slave the soak kills (kill -9) as the fault
    restart_slave: int | None = None  # a slave that died with it, started again after


CATALOGUE = (
    Fault("cell-voltage high", (InjectCell(1, 3, CellQuantity.VOLTAGE, 4300.0, 2.0),),
          "cell_overvoltage_msl"),
    Fault("cell-voltage low", (InjectCell(0, 0, CellQuantity.VOLTAGE, 2550.0, 2.0),),
          "cell_undervoltage_msl"),
    Fault("cell-voltage deep discharge", (InjectCell(2, 15, CellQuantity.VOLTAGE, 1900.0, 2.0),),
          "deep_discharge", service_reset=True),
    Fault("cell-temperature high", (InjectCell(1, 2, CellQuantity.TEMPERATURE, 65.0, 2.0),),
          "discharge_overtemperature_msl"),
    Fault("cell-temperature low", (InjectCell(3, 7, CellQuantity.TEMPERATURE, -25.0, 2.0),),
          "discharge_undertemperature_msl"),
    Fault("cell invalid", (InjectCell(0, 5, CellQuantity.INVALID, 0.0, 2.0),),
          "measurement_invalid"),
    Fault("current", (InjectCurrent(-60.0, 1.0),), "discharge_overcurrent_msl"),
    Fault("sensor silence", (InjectSensor(SensorFault.SILENCE, 2.0),), "current_sensor_lost"),
    Fault("sensor flag-over-current", (InjectSensor(SensorFault.FLAG_OVER_CURRENT, 2.0),),
          "current_sensor_flagged"),
    Fault("sensor flag-channel-error", (InjectSensor(SensorFault.FLAG_CHANNEL_ERROR, 2.0),),
          "current_sensor_invalid"),
    Fault("sensor flag-system-error", (InjectSensor(SensorFault.FLAG_SYSTEM_ERROR, 2.0),),
          "current_sensor_invalid"),
    Fault("sensor offset-voltage", (InjectSensor(SensorFault.OFFSET_VOLTAGE, 3.0, 4.0),),
          "pack_voltage_plausibility"),
    Fault("slave stop", (InjectSlave(1, SlaveFault.STOP, 2.0),), "slave_lost"),
    Fault("slave freeze", (InjectSlave(2, SlaveFault.FREEZE, 6.0),), "slave_frozen"),
    Fault("slave bad-crc", (InjectSlave(3, SlaveFault.BAD_CRC, 2.0),), "slave_e2e"),
    Fault("slave stuck-counter", (InjectSlave(0, SlaveFault.STUCK_COUNTER, 2.0),), "slave_e2e"),
    Fault("slave afe-fault", (InjectSlave(1, SlaveFault.AFE_FAULT, 2.0),), "slave_afe_fault"),
    Fault("slave kill", (InjectSlave(2, SlaveFault.KILL),), "slave_lost", restart_slave=2),
    Fault("slave alternate (a forged over-voltage in every other frame)",
          (InjectSlave(2, SlaveFault.ALTERNATE, 3.0),
           InjectCell(2, 6, CellQuantity.VOLTAGE, 4320.0, 3.0)), "slave_readings_flipping"),
    Fault("slave noisy-replay (and a load step)",
          (InjectSlave(3, SlaveFault.NOISY_REPLAY, 5.0), InjectCurrent(-20.0, 3.0)),
          "slave_ignores_current"),
    Fault("slave-restart (kill -9 of its process)", (), "slave_lost", kill_slave=3,
          restart_slave=3),
    Fault("contactor main-plus welded",
          (InjectContactor(ContactorId.MAIN_PLUS, ContactorFault.WELDED),
           VcuCommand(VcuCommandRequest.STANDBY)),
          "contactor_welded",
          clear=(InjectContactor(ContactorId.MAIN_PLUS, ContactorFault.NONE),)),
    Fault("contactor main-minus fails-to-close",
          (InjectContactor(ContactorId.MAIN_MINUS, ContactorFault.FAILS_TO_CLOSE),
           VcuCommand(VcuCommandRequest.STANDBY)),
          "contactor_failed_to_close", after_standby=(VcuCommand(VcuCommandRequest.DRIVE),),
          clear=(InjectContactor(ContactorId.MAIN_MINUS, ContactorFault.NONE),)),
    Fault("vcu silence", (VcuCommand(silence_heartbeat_s=3.0),), "vcu_lost"),
    Fault("cell-voltage warning", (InjectCell(0, 9, CellQuantity.VOLTAGE, 4220.0, 2.0),),
          "cell_overvoltage_rsl", fatal=False),
    Fault("broker-restart", (), None, fatal=False),
)


@dataclass
class Outcome:
    fault: str
    reacted: bool
    recovered: bool
    reaction_s: float | None = None
    recovery_s: float | None = None
    problem: str = ""


@dataclass
class Archive:
    """An MQTT subscriber with a persistent session: it reconnects through broker restarts
    and keeps every event id it receives (duplicates counted)."""

    ids: set[int] = field(default_factory=set)
    duplicates: int = 0
    reconnects: int = 0

    async def run(self, broker: ProjectBroker, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with aiomqtt.Client(broker.host, broker.port, username="monitor",
                                          password=PASSWORDS["monitor"],
                                          identifier="soak-archive",
                                          clean_session=False) as client:
                    await client.subscribe(f"bms/{PACK}/events", qos=1)
                    async for message in client.messages:
                        assert isinstance(message.payload, bytes)
                        event_id = int(msgpack.unpackb(message.payload)["id"])
                        if event_id in self.ids:
                            self.duplicates += 1
                        self.ids.add(event_id)
            except aiomqtt.MqttError:
                self.reconnects += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await stop.wait()


def stored(db: Path, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                                timeout=5.0)) as connection:
            return connection.execute(query, args).fetchall()
    except sqlite3.Error:
        return []


def rss_mb(pid: int) -> float:
    return memory_mb(pid)[0]  # VmRSS, as the footprint bench reads it


async def wait_for(condition: Callable[[], bool], deadline_s: float) -> float | None:
    """Seconds until ``condition`` held, None if it did not within ``deadline_s``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > deadline_s:
            return None
        await asyncio.sleep(0.05)
    return time.monotonic() - start


class Soak:
    def __init__(self, pack: RunningPack, broker: ProjectBroker) -> None:
        self.pack = pack
        self.broker = broker
        self.db = pack.run_dir / "bms.sqlite"
        self.restarted: dict[int, asyncio.subprocess.Process] = {}  # module: its new process

    def state(self) -> MasterState | None:
        return self.pack.observer.master_state

    def entry_set_since(self, entry: str, wall_s: float) -> bool:
        return bool(stored(self.db, "SELECT 1 FROM events WHERE entry = ? AND change = 'set' "
                                    "AND wall_time >= ?", (entry, wall_s)))

    async def kill_slave(self, module: int) -> None:
        """kill -9 of the slave's process: the launcher's child, or the soak's own."""
        own = self.restarted.get(module)
        if own is not None:
            if own.returncode is None:
                own.kill()
            await own.wait()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pack.pid(f"slave {module}"), signal.SIGKILL)

    async def restart_slave(self, module: int) -> None:
        """What systemd's Restart=always does for a slave that died."""
        await self.kill_slave(module)  # it is dead already: this only reaps it
        self.restarted[module] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "slave", "--module", str(module), "--config",
            str(self.pack.config), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)

    async def reset(self, service: bool) -> None:
        if service:
            await self.pack.inject(VcuCommand(service_reset=True))
        await self.pack.inject(VcuCommand(VcuCommandRequest.DRIVE, reset_faults=True))

    async def one(self, fault: Fault) -> Outcome:
        wall = time.time()
        if fault.name == "broker-restart":
            await self.broker.stop()
            await asyncio.sleep(BROKER_OUTAGE_S)  # the outage itself
            await self.broker.start()
            steady = await wait_for(lambda: self.state() is not MasterState.NORMAL, 2.0)
            return Outcome(fault.name, reacted=steady is None, recovered=steady is None,
                           problem="" if steady is None else "the pack left NORMAL")
        for frame in fault.inject:
            await self.pack.inject(frame)
        if fault.kill_slave is not None:
            await self.kill_slave(fault.kill_slave)
        if fault.after_standby:
            await wait_for(lambda: self.state() is MasterState.STANDBY, REACTION_DEADLINE_S)
            for frame in fault.after_standby:
                await self.pack.inject(frame)
        if fault.fatal:
            reaction = await wait_for(lambda: self.state() is MasterState.ERROR,
                                      REACTION_DEADLINE_S)
        else:
            reaction = await wait_for(lambda: self.entry_set_since(str(fault.entry), wall),
                                      REACTION_DEADLINE_S)
        entry_ok = fault.entry is None or await wait_for(
            lambda: self.entry_set_since(str(fault.entry), wall), 5.0) is not None
        outcome = Outcome(fault.name, reacted=reaction is not None and entry_ok,
                          recovered=False, reaction_s=reaction)
        if reaction is None:
            outcome.problem = "no ERROR" if fault.fatal else "no warning"
        elif not entry_ok:
            outcome.problem = f"no {fault.entry} event"
        if not fault.fatal and self.state() is MasterState.ERROR:
            outcome.reacted, outcome.problem = False, "a warning opened the contactors"
        for frame in fault.clear:
            await self.pack.inject(frame)
        if fault.restart_slave is not None:
            await self.restart_slave(fault.restart_slave)
        started = time.monotonic()
        recovery = None
        while recovery is None and time.monotonic() - started < RECOVERY_DEADLINE_S:
            await self.reset(fault.service_reset)
            recovery = await wait_for(lambda: self.state() is MasterState.NORMAL, 3.0)
        if recovery is not None:
            outcome.recovered, outcome.recovery_s = True, time.monotonic() - started
        elif not outcome.problem:
            outcome.problem = "not NORMAL again after the reset"
        return outcome


async def soak(seconds: float, seed: int = 25, fault_every_s: float = FAULT_EVERY_S,
               say: Callable[[str], None] = print,
               kinds: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the soak for ``seconds``; its figures and whether every check held. ``kinds``:
    only the catalogue's faults whose names start so."""
    catalogue = [f for f in CATALOGUE
                 if kinds is None or any(f.name.startswith(k) for k in kinds)]
    rng = random.Random(seed)
    os.environ["BMS_MQTT_PASSWORD"] = PASSWORDS["bms-master"]
    with tempfile.TemporaryDirectory(prefix="bms-soak-") as scratch:
        directory = Path(scratch)
        async with project_broker(directory / "broker") as broker:
            extra = (f'name = "{PACK}"\n\n[mqtt]\nenabled = true\nport = {broker.port}\n'
                     f'username = "bms-master"\n\n[master]\nfrozen_readings_s = 3.0\n')
            archive, stop = Archive(), asyncio.Event()
            archiver = asyncio.create_task(archive.run(broker, stop))
            async with online_pack(directory, MODULES, "--keep-going", extra=extra) as pack:
                rig = Soak(pack, broker)
                master = pack.pid("master")
                started = time.monotonic()
                outcomes: list[Outcome] = []
                rss: list[tuple[float, float]] = [(0.0, rss_mb(master))]
                order: list[Fault] = []
                try:
                    normal = await wait_for(lambda: rig.state() is MasterState.NORMAL, 30.0)
                    if normal is None:
                        raise RuntimeError("the pack never reached NORMAL")
                    while time.monotonic() - started + fault_every_s <= seconds:
                        slot = time.monotonic()
                        if not order:
                            order = list(catalogue)
                            rng.shuffle(order)
                        outcome = await rig.one(order.pop())
                        outcomes.append(outcome)
                        say(f"{time.monotonic() - started:7.1f} s  {outcome.fault:<40} "
                            f"{'ok' if outcome.reacted and outcome.recovered else 'FAILED'}"
                            f"  {outcome.problem}")
                        elapsed = time.monotonic() - started
                        if elapsed - rss[-1][0] >= 60.0:
                            rss.append((elapsed, rss_mb(master)))
                        await asyncio.sleep(max(0.0, fault_every_s - (time.monotonic() - slot)))
                    rss.append((time.monotonic() - started, rss_mb(master)))
                    # the telemetry catches up, then the pack stops cleanly
                    ids = {row[0] for row in stored(rig.db, "SELECT id FROM events")}
                    await wait_for(lambda: ids <= archive.ids, 30.0)
                    pack.process.send_signal(signal.SIGINT)
                    await finish(pack.process, 60.0)
                finally:
                    for process in rig.restarted.values():
                        if process.returncode is None:
                            process.kill()
                        await process.wait()
                stop.set()
                archiver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await archiver
            rows = stored(rig.db, "SELECT id, text FROM events ORDER BY id")
            journal = json.loads((pack.run_dir / "master.stats.json").read_text())["events"]
    store_ids = {row[0] for row in rows}
    texts = [row[1] for row in rows]
    undelivered = sorted(store_ids - archive.ids)
    after_fill = [mb for t, mb in rss if t >= min(RSS_FILL_S, seconds / 2)]
    growth = max(after_fill) - min(after_fill) if len(after_fill) > 1 else 0.0
    checks = {
        "every fault reacted as expected": all(o.reacted for o in outcomes),
        "NORMAL again after every reset": all(o.recovered for o in outcomes),
        f"master RSS <= {RSS_BOUND_MB:.0f} MB": max(mb for _, mb in rss) <= RSS_BOUND_MB,
        f"RSS growth after the fill time <= {RSS_GROWTH_MB:.0f} MB": growth <= RSS_GROWTH_MB,
        "every stored event delivered on MQTT": not undelivered,
        "the journal equals the store's last events":
            texts[len(texts) - len(journal):] == journal,
    }
    reactions = [o.reaction_s for o in outcomes if o.reaction_s is not None and o.reacted]
    recoveries = [o.recovery_s for o in outcomes if o.recovery_s is not None]
    return {
        "seconds": seconds, "faults": len(outcomes),
        "kinds": sorted({o.fault for o in outcomes}),
        "failed": [vars(o) for o in outcomes if not (o.reacted and o.recovered)],
        "reaction_s": {"median": statistics.median(reactions) if reactions else None,
                       "max": max(reactions, default=None)},
        "recovery_s": {"median": statistics.median(recoveries) if recoveries else None,
                       "max": max(recoveries, default=None)},
        "rss_mb": [[round(t), round(mb, 1)] for t, mb in rss],
        "events_stored": len(rows), "undelivered": undelivered[:20],
        "mqtt_duplicates": archive.duplicates, "mqtt_reconnects": archive.reconnects,
        "journal_events": len(journal), "checks": checks, "ok": all(checks.values()),
    }


async def run(seconds: float) -> dict[str, Any]:
    print(f"a {MODULES}-module pack with MQTT for {seconds:.0f} s, a fault every "
          f"{FAULT_EVERY_S:.0f} s from {len(CATALOGUE)} kinds", flush=True)
    result = await soak(seconds, say=lambda line: print(line, flush=True))
    print(f"{result['faults']} faults of {len(result['kinds'])} kinds; reaction median "
          f"{result['reaction_s']['median']} s, max {result['reaction_s']['max']} s; "
          f"back to NORMAL median {result['recovery_s']['median']} s, max "
          f"{result['recovery_s']['max']} s")
    print(f"master RSS (s, MB): {result['rss_mb']}")
    print(f"{result['events_stored']} events stored, all on MQTT: "
          f"{not result['undelivered']} ({result['mqtt_duplicates']} duplicates, "
          f"{result['mqtt_reconnects']} reconnects)")
    for check, held in result["checks"].items():
        print(f"  {'held' if held else 'FAILED'}: {check}")
    result["targets_met"] = result["ok"]
    return result
