"""The virtual pack's master with MQTT on, against the project's broker: the telemetry, the
operator's commands, `bms monitor`, and the last will when the master is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiomqtt
import pytest

from testbed.brokers import PASSWORDS, ProjectBroker, project_broker
from testbed.packs import finish, online_pack
from testbed.waiting import wait_until
from tests.master.telemetry.test_publisher import subscribed

pytestmark = pytest.mark.multiprocess
PACK = "mqtt-pack"


def extra(broker: ProjectBroker) -> str:
    """Appended to the [pack] table: the pack's name, then MQTT on the test broker."""
    return (f'name = "{PACK}"\n\n[mqtt]\nenabled = true\nport = {broker.port}\n'
            f'username = "bms-master"\n')


async def command(broker: ProjectBroker, payload: dict[str, object]) -> None:
    from master.telemetry.payloads import pack_bytes

    async with aiomqtt.Client(broker.host, broker.port, username="operator",
                              password=PASSWORDS["operator"]) as client:
        await client.publish(f"bms/{PACK}/command", pack_bytes(payload), qos=1)


async def test_the_master_publishes_takes_commands_and_leaves_a_will(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_MQTT_PASSWORD", PASSWORDS["bms-master"])
    async with project_broker(tmp_path / "broker") as broker, \
            subscribed(broker, "monitor") as subscriber, \
            online_pack(tmp_path, 2, "--keep-going", extra=extra(broker)) as pack:
        topic = f"bms/{PACK}"
        await wait_until(lambda: any(s["state"] == "NORMAL"
                                     for s in subscriber.of(f"{topic}/state")),
                         15.0, "the state NORMAL on MQTT")
        await wait_until(lambda: bool(subscriber.of(f"{topic}/cells")), 5.0, "cells")
        cells = subscriber.of(f"{topic}/cells")[-1]
        voltages = cells["voltages_mv"]
        assert isinstance(voltages, list)
        assert len(voltages) == 2 * 16
        assert all(isinstance(v, int) for v in voltages)
        assert subscriber.of(f"{topic}/limits")
        # the latest, not the first: a connect that timed out under load leaves its will
        def online() -> list[object]:
            return [m["online"] for m in subscriber.of(f"{topic}/online")]
        await wait_until(lambda: online()[-1:] == [True], 5.0, "online true")
        events = subscriber.of(f"{topic}/events")
        assert any("NORMAL" in str(e["text"]) for e in events)
        ids = [e["id"] for e in events]
        assert ids == sorted(set(ids))  # in order, once

        await command(broker, {"command": "balancing", "enabled": False, "id": "b1"})
        await command(broker, {"command": "state", "request": "standby", "id": "s1"})
        await wait_until(lambda: len(subscriber.of(f"{topic}/command/result")) >= 2, 5.0,
                         "two command results")
        results = {r["id"]: r for r in subscriber.of(f"{topic}/command/result")}
        assert results["b1"]["accepted"] is True
        assert results["s1"]["accepted"] is False
        assert "VCU" in str(results["s1"]["reason"])

        monitor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "monitor", "--broker",
            f"mqtt://monitor@{broker.host}:{broker.port}", "--duration", "2.5",
            env={**os.environ, "BMS_MONITOR_PASSWORD": PASSWORDS["monitor"]},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await asyncio.wait_for(monitor.communicate(), 20.0)
        assert monitor.returncode == 0, output.decode()
        assert f"{PACK}: online NORMAL" in output.decode()

        os.kill(pack.pid("master"), signal.SIGKILL)
        await wait_until(lambda: online()[-1:] == [False], 20.0, "the last will: online false")
        pack.process.send_signal(signal.SIGINT)
        code, output_text = await finish(pack.process)
    assert code == 1  # the master died
    assert "master" in output_text
