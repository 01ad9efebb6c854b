"""`bms sunspec` with the project's Mosquitto (its users and ACL): what the master publishes
(as bms-master) reaches pysunspec2 through the subscription (as monitor), in the service
and in the `bms sunspec` process; a control written over Modbus arrives on the pack's
command topic as the operator's command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from bms.settings import Settings
from master.telemetry.commands import Command, parse_command
from master.telemetry.payloads import Topics, state_payload
from sunspec.service import Served, SunSpecService
from testbed.brokers import PASSWORDS, ProjectBroker, project_broker
from testbed.waiting import wait_until
from tests.sunspec import client
from tests.sunspec.packs import PACK, T0, messages, report, settings

pytestmark = pytest.mark.multiprocess  # a broker on loopback
DEADLINE_S = 20.0
REPO = Path(__file__).resolve().parents[2]


def broker_settings(broker: ProjectBroker, *overrides: str) -> Settings:
    return settings(f"mqtt.port={broker.port}", "sunspec.port=0", *overrides)


async def publish(broker: ProjectBroker, sent: list[tuple[str, bytes]]) -> None:
    """As the master publishes: bms-master, QoS 1, retained (the state, cells and limits
    topics are)."""
    async with aiomqtt.Client(broker.host, broker.port, username="bms-master",
                              password=PASSWORDS["bms-master"]) as master:
        for topic, payload in sent:
            await master.publish(topic, payload, qos=1, retain=True)


@contextlib.asynccontextmanager
async def running(service: SunSpecService) -> AsyncIterator[int]:
    stop = asyncio.Event()
    served: asyncio.Future[Served] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(service.run(stop, served.set_result))
    try:
        where = await asyncio.wait_for(served, DEADLINE_S)
        await wait_until(service.connected.is_set, DEADLINE_S, "subscribed")
        yield where.port
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)


def heard(service: SunSpecService, t: float) -> bool:
    pack = service.model.packs.get(PACK)
    return pack is not None and pack.latest.get("state", {}).get("t") == t


async def test_what_the_master_publishes_is_what_pysunspec2_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_MONITOR_PASSWORD", PASSWORDS["monitor"])
    async with project_broker(tmp_path / "broker") as broker:
        service = SunSpecService(broker_settings(broker))
        async with running(service) as port:
            await publish(broker, messages(report()))
            await wait_until(lambda: heard(service, T0), DEADLINE_S, "the state arrived")
            first = await asyncio.to_thread(client.scan, port)
            charging = report(current_a=4.0, voltage_v=30.5)
            await publish(broker, [(Topics("bms", PACK).state, state_payload(charging, T0 + 1))])
            await wait_until(lambda: heard(service, T0 + 1), DEADLINE_S, "the next state")
            second = await asyncio.to_thread(client.scan, port)
    assert (first[802]["points"]["SoC"], first[802]["points"]["A"]) == (58.1, 12.5)
    battery = second[802]["points"]
    assert (battery["A"], battery["V"], battery["ChaSt"]) == (-4.0, 30.5, 4)  # CHARGING
    assert battery["Hb"] == (first[802]["points"]["Hb"] + 1) % 65535
    assert service.stats.broker_connects == 1
    assert service.model.bad_messages == 0


async def commands_on(broker: ProjectBroker, arrived: list[Command],
                      ready: asyncio.Event) -> None:
    """What the master would take: its command topic, as bms-master."""
    async with aiomqtt.Client(broker.host, broker.port, username="bms-master",
                              password=PASSWORDS["bms-master"]) as master:
        await master.subscribe(Topics("bms", PACK).command, qos=1)
        ready.set()
        async for message in master.messages:
            arrived.append(parse_command(bytes(message.payload or b"")))  # type: ignore[arg-type]


async def test_controls_are_the_operators_commands_on_the_broker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_MONITOR_PASSWORD", PASSWORDS["monitor"])
    monkeypatch.setenv("BMS_OPERATOR_PASSWORD", PASSWORDS["operator"])
    arrived: list[Command] = []
    async with project_broker(tmp_path / "broker") as broker:
        service = SunSpecService(broker_settings(broker, "sunspec.controls=true"))
        ready = asyncio.Event()
        listener = asyncio.create_task(commands_on(broker, arrived, ready))
        try:
            await asyncio.wait_for(ready.wait(), DEADLINE_S)
            async with running(service) as port:
                await publish(broker, messages(report()))
                await wait_until(lambda: heard(service, T0), DEADLINE_S, "the state arrived")
                await asyncio.to_thread(client.write, port, 802, "SetOp", 2)
                await wait_until(lambda: len(arrived) == 1, DEADLINE_S, "a state command")
                await asyncio.to_thread(client.write, port, 802, "AlmRst", 1)
                await wait_until(lambda: len(arrived) == 2, DEADLINE_S, "a fault reset")
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
    assert [(c.name, c.arguments) for c in arrived] == [("state", {"request": "standby"}),
                                                       ("fault_reset", {})]
    assert service.stats.commands_sent == 2


async def test_the_command_serves_the_pack_and_stops_on_a_signal(tmp_path: Path) -> None:
    async with project_broker(tmp_path / "broker") as broker:
        await publish(broker, messages(report()))  # retained: there before it starts
        port_file = tmp_path / "port"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "sunspec", "--pack", PACK,
            "--set", f"mqtt.port={broker.port}", "--set", "sunspec.port=0",
            "--set", "pack.modules=2", "--set", "pack.cells_per_module=4",
            "--set", "pack.temperature_sensors_per_module=3", "--port-file", str(port_file),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "BMS_MONITOR_PASSWORD": PASSWORDS["monitor"]})
        try:
            await wait_until(lambda: port_file.exists() and port_file.read_text().strip()
                             != "", DEADLINE_S, "the server listens")
            port = int(port_file.read_text())

            async def scanned() -> dict[object, object]:
                # the subscription's retained messages arrive after the listening: read
                # until the state is there (each read a full scan)
                async with asyncio.timeout(DEADLINE_S):
                    while True:
                        found = await asyncio.to_thread(client.scan, port)
                        if found[802]["points"]["SoC"] is not None:  # type: ignore[index]
                            return found
                        await asyncio.sleep(0.05)
            found = await scanned()
            assert found[1]["points"]["SN"] == PACK  # type: ignore[index]
            assert found[802]["points"]["SoC"] == 58.1  # type: ignore[index]
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), DEADLINE_S)
        assert process.returncode == 0, output.decode()
        assert f"unit 1, pack {PACK}" in output.decode()
