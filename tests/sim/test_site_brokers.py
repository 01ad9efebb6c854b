"""The brokers of a virtual site (sim/site_brokers.py) run as real Mosquitto processes on
loopback: each pack's telemetry crosses its bridge to the site broker, the site's commands
cross back to that pack alone, the ACL keeps a pack's bridge user to its own topics, and a
site broker outage loses no QoS 1 message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiomqtt
import msgpack
import pytest

from master.telemetry.clients import tls_of
from sim import site_brokers
from sim.broker import USERS_ENV, BrokerPlan
from sim.site_brokers import (
    BRIDGE_DOWN,
    BRIDGE_UP,
    RESTART_BASE_S,
    RESTART_CAP_S,
    SITE_USER,
    SitePlan,
    bridge_section,
    bridge_topic,
    configure_site,
)
from testbed.waiting import wait_until

Test = TypeVar("Test", bound=Callable[..., Awaitable[None]])


def with_brokers(test: Test) -> Test:
    """Real brokers on loopback: a private network namespace, Mosquitto and openssl."""
    needs = pytest.mark.skipif(site_brokers.missing() is not None,
                               reason=f"no site brokers here: {site_brokers.missing()}")
    marked: Test = pytest.mark.multiprocess(needs(test))
    return marked


PACKS = ["pack-a", "pack-b"]
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
DELIVERY_TIMEOUT_S = 20.0
POLL_S = 0.02
OUTAGE_MESSAGES = 50
SITE = "site"  # where a client connects: the site broker, else a pack's


class Mosquitto:
    """One broker process of a plan; started again after a stop on the same ports."""

    def __init__(self, plan: BrokerPlan, ports: list[int], log: Path) -> None:
        self.plan, self.ports, self.log = plan, ports, log
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.plan.argv, stdout=log, stderr=log)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                for port in self.ports:
                    await self._accepting(port)
        except TimeoutError:
            raise AssertionError(f"{self.plan.argv} not accepting on {self.ports}: "
                                 f"{self.log.read_text()[-2000:]}") from None

    async def _accepting(self, port: int) -> None:
        while True:
            assert self._process is not None
            if self._process.returncode is not None:
                raise AssertionError(f"{self.plan.argv} exited: {self.log.read_text()[-2000:]}")
            try:
                _, writer = await asyncio.open_connection(site_brokers.LOOPBACK, port)
            except OSError:
                await asyncio.sleep(POLL_S)  # nothing to await but the listener: poll it
                continue
            writer.close()
            await writer.wait_closed()
            return

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()  # SIGTERM: Mosquitto saves its persistence database and exits
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    at_s: float  # time.monotonic() of its arrival


@dataclass
class Received:
    messages: list[Message] = field(default_factory=list)

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    def topics(self) -> set[str]:
        return {m.topic for m in self.messages}


@dataclass
class Site:
    plan: SitePlan
    site: Mosquitto
    packs: dict[str, Mosquitto]

    def client(self, where: str, user: str, *, identifier: str | None = None,
               clean_session: bool = True, tls: bool = False) -> aiomqtt.Client:
        """``user`` at the site broker (``where`` = SITE: plain, or ``tls``: the listener the
        bridges use) or at a pack's broker (``where`` = its name)."""
        plan = self.plan.site if where == SITE else self.plan.packs[where]
        password = (self.plan.bridge_passwords[user] if user in self.plan.bridge_passwords
                    else plan.passwords_env[USERS_ENV[user]])
        port = self.plan.tls_port if tls else plan.port
        return aiomqtt.Client(
            self.plan.host, port, username=user, password=password, identifier=identifier,
            clean_session=clean_session,
            tls_params=tls_of(str(self.plan.certificates.ca_file)) if tls else None)


@asynccontextmanager
async def subscribed(client: aiomqtt.Client, *filters: str,
                     subscribe: bool = True) -> AsyncIterator[Received]:
    """What ``client`` receives on ``filters`` (QoS 1) while the block runs; subscribe
    False: a persistent session's subscriptions, already made."""
    received = Received()

    async def collect() -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            received.messages.append(Message(str(message.topic), message.payload,
                                             message.qos, message.retain, time.monotonic()))

    async with client:
        if subscribe:
            for topic_filter in filters:
                await client.subscribe(topic_filter, qos=1)
        task = asyncio.create_task(collect(), name="collect")
        try:
            yield received
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def payload(**values: object) -> bytes:
    return bytes(msgpack.packb({"v": 1, "t": time.time(), **values}))


def unpacked(message: Message) -> dict[str, object]:
    value = msgpack.unpackb(message.payload)
    assert isinstance(value, dict)
    return value


def test_the_bridge_recipe_filled_in_for_a_pack(tmp_path: Path) -> None:
    text = bridge_section("pack-7", "127.0.0.1", 18883, tmp_path / "ca.crt", "secret",
                          restart_base_s=1, restart_cap_s=2, keepalive_s=5)
    lines = [line.split(" ", 1) for line in text.splitlines() if line and line[0] != "#"]
    directives: dict[str, list[str]] = {}
    for directive, value in lines:
        directives.setdefault(directive, []).append(value)
    assert directives == {
        "connection": ["site-pack-7"], "address": ["127.0.0.1:18883"],
        "remote_clientid": ["site-pack-7"], "start_type": ["automatic"],
        "restart_timeout": ["1 2"], "keepalive_interval": ["5"],
        "bridge_cafile": [str(tmp_path / "ca.crt")], "bridge_tls_version": ["tlsv1.2"],
        "bridge_insecure": ["false"], "remote_username": ["pack-7"],
        "remote_password": ["secret"], "cleansession": ["false"],
        "bridge_protocol_version": ["mqttv311"], "try_private": ["true"],
        "notifications": ["true"], "notification_topic": [bridge_topic("pack-7")],
        "topic": ["bms/pack-7/# out 1", "bms/pack-7/command in 1"]}


@pytest.mark.parametrize("packs", [[], ["operator"], ["site"], ["pack a"], ["pack-a", "pack_a"]])
def test_packs_a_site_cannot_have(tmp_path: Path, packs: list[str]) -> None:
    with pytest.raises(ValueError, match="pack"):
        configure_site(tmp_path, packs)
    assert not any(tmp_path.iterdir())  # refused before anything is written


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    plan = configure_site(tmp_path, PACKS)
    running = Site(plan, Mosquitto(plan.site, [plan.site.port, plan.tls_port],
                                   tmp_path / "site.log"),
                   {pack: Mosquitto(p, [p.port], tmp_path / f"{pack}.log")
                    for pack, p in plan.packs.items()})
    try:
        await running.site.start()
        for broker in running.packs.values():
            await broker.start()
        async with subscribed(running.client(SITE, SITE_USER), "bms/+/bridge") as bridges:
            await wait_until(lambda: all(any(m.payload == BRIDGE_UP
                                             for m in bridges.on(bridge_topic(pack)))
                                         for pack in PACKS),
                             DELIVERY_TIMEOUT_S, "every pack's bridge is up")
        yield running
    finally:
        for broker in [*running.packs.values(), running.site]:
            await broker.stop()


@with_brokers
async def test_each_pack_s_state_reaches_the_site_user_over_tls(site: Site) -> None:
    async with subscribed(site.client(SITE, SITE_USER, tls=True), "bms/+/state") as seen:
        for pack in PACKS:
            async with site.client(pack, "bms-master") as master:
                await master.publish(f"bms/{pack}/state", payload(pack=pack), qos=1)
        await wait_until(lambda: {f"bms/{pack}/state" for pack in PACKS} <= seen.topics(),
                         DELIVERY_TIMEOUT_S, "both packs' state at the site broker")
    for pack in PACKS:
        (message,) = seen.on(f"bms/{pack}/state")
        assert message.qos == 1
        assert unpacked(message)["pack"] == pack


@with_brokers
async def test_a_site_command_reaches_its_pack_s_master_only(site: Site) -> None:
    async with subscribed(site.client("pack-a", "bms-master"), "bms/+/command") as at_a, \
            subscribed(site.client("pack-b", "bms-master"), "bms/+/command") as at_b:
        async with site.client(SITE, SITE_USER) as site_client:
            # in this order on one connection: each master's last is its sentinel
            for pack, command_id in (("pack-a", "a1"), ("pack-b", "b1"), ("pack-a", "a2")):
                await site_client.publish(f"bms/{pack}/command", payload(
                    command="state", request="drive", id=command_id), qos=1)
        await wait_until(lambda: len(at_a.messages) >= 2 and len(at_b.messages) >= 1,
                         DELIVERY_TIMEOUT_S, "the commands at the packs' brokers")
    assert [unpacked(m)["id"] for m in at_a.messages] == ["a1", "a2"]
    assert [unpacked(m)["id"] for m in at_b.messages] == ["b1"]
    assert {m.topic for m in at_a.messages} == {"bms/pack-a/command"}
    assert all(m.qos == 1 for m in at_a.messages + at_b.messages)


DENIED_TO_PACK_A = ["bms/pack-b/state", "bms/pack-b/events", "bms/pack-b/online",
                    "bms/pack-b/bridge", "bms/pack-b/command/result", "bms/pack-b/command",
                    "bms/pack-a/command"]


@with_brokers
async def test_a_pack_s_bridge_user_writes_its_own_telemetry_only(site: Site) -> None:
    forged = payload(forged=True)
    async with subscribed(site.client(SITE, "operator"), "bms/#") as seen:
        async with site.client(SITE, "pack-a", tls=True) as pack_a:
            for topic in DENIED_TO_PACK_A:
                await pack_a.publish(topic, forged, qos=1)
            await pack_a.publish("bms/pack-a/state", payload(sentinel=True), qos=1)
        # published after the others on one connection: they would be here before it
        await wait_until(lambda: bool(seen.on("bms/pack-a/state")), DELIVERY_TIMEOUT_S,
                         "pack-a's own state")
    assert not [m.topic for m in seen.messages if m.payload == forged]


@with_brokers
async def test_a_pack_s_bridge_user_reads_its_own_commands_only(site: Site) -> None:
    async with subscribed(site.client(SITE, "pack-a", tls=True), "bms/#") as seen:
        async with site.client(SITE, SITE_USER) as site_client:
            await site_client.publish("bms/pack-b/command", payload(id="b"), qos=1)
            await site_client.publish("bms/pack-a/command", payload(id="a"), qos=1)
        await wait_until(lambda: bool(seen.messages), DELIVERY_TIMEOUT_S, "pack-a's command")
    assert [(m.topic, unpacked(m)["id"]) for m in seen.messages] == [("bms/pack-a/command",
                                                                        "a")]


@with_brokers
async def test_a_site_broker_outage_loses_no_state_message(site: Site) -> None:
    state, bridge = "bms/pack-a/state", bridge_topic("pack-a")

    def site_subscriber() -> aiomqtt.Client:  # one persistent session
        return site.client(SITE, SITE_USER, identifier="site-controller", clean_session=False)

    async with subscribed(site_subscriber(), state, bridge):
        pass  # the session and its subscriptions, kept by the site broker
    await site.site.stop()
    async with site.client("pack-a", "bms-master") as master:
        for sequence in range(OUTAGE_MESSAGES):
            await master.publish(state, payload(sequence=sequence), qos=1)
    await site.site.start()  # same ports, its persistence database reloaded
    back_s = time.monotonic()
    async with subscribed(site_subscriber(), subscribe=False) as seen:
        await wait_until(lambda: len({unpacked(m)["sequence"] for m in seen.on(state)})
                         == OUTAGE_MESSAGES, DELIVERY_TIMEOUT_S, f"{OUTAGE_MESSAGES} states")
        await wait_until(lambda: any(m.payload == BRIDGE_UP and not m.retain
                                     for m in seen.on(bridge)), DELIVERY_TIMEOUT_S,
                         "the bridge's notification: up")
    sequences = [unpacked(m)["sequence"] for m in seen.on(state)]
    assert sorted(set(sequences)) == list(range(OUTAGE_MESSAGES))  # type: ignore[type-var]
    # the bridge's queue drains only once it is connected: its first message dates that
    first_s, last_s = min(m.at_s for m in seen.on(state)), max(m.at_s for m in seen.on(state))
    print(f"\nbridge reconnected {first_s - back_s:.2f} s after the site broker was back "
          f"(restart_timeout {RESTART_BASE_S} {RESTART_CAP_S}); all {OUTAGE_MESSAGES} states there "
          f"{last_s - back_s:.2f} s after it ({len(sequences) - OUTAGE_MESSAGES} duplicates)")


@with_brokers
async def test_a_command_sent_while_a_pack_s_broker_is_down_reaches_it_when_back(
        site: Site) -> None:
    command, bridge = "bms/pack-a/command", bridge_topic("pack-a")

    def master() -> aiomqtt.Client:  # one persistent session at pack-a's broker
        return site.client("pack-a", "bms-master", identifier="bms-master-pack-a",
                           clean_session=False)

    async with subscribed(master(), command):
        pass
    async with subscribed(site.client(SITE, SITE_USER), bridge) as notifications:
        await site.packs["pack-a"].stop()
        await wait_until(lambda: [m.payload for m in notifications.on(bridge)][-1:]
                         == [BRIDGE_DOWN],
                         DELIVERY_TIMEOUT_S, "the bridge's notification: down")
    async with site.client(SITE, SITE_USER) as site_client:  # queued for the bridge's session
        await site_client.publish(command, payload(id="sent-in-the-outage"), qos=1)
    await site.packs["pack-a"].start()
    async with subscribed(master(), subscribe=False) as seen:
        await wait_until(lambda: bool(seen.on(command)), DELIVERY_TIMEOUT_S,
                         "the command, once pack-a's broker is back")
    assert [unpacked(m)["id"] for m in seen.on(command)] == ["sent-in-the-outage"]
