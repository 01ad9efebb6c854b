"""The embedded MQTT broker, driven by aiomqtt and by a raw socket client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from testbed.brokers import hashed_7
from testbed.embedded_broker import (
    BAD_USER_NAME_OR_PASSWORD,
    CONNACK,
    CONNECT,
    DISCONNECT,
    NOT_AUTHORIZED,
    Acl,
    EmbeddedBroker,
    Message,
    encode_packet,
    encode_string,
    read_packet,
    topic_matches,
    verify_password,
)
from testbed.waiting import wait_until

DEADLINE_S = 2.0


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker() as running:
        yield running


def client(broker: EmbeddedBroker, identifier: str | None = None, username: str | None = None,
           password: str | None = None, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, identifier=identifier, username=username,
                          password=password, will=will, timeout=DEADLINE_S)


async def next_message(subscriber: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(DEADLINE_S):
        return await anext(aiter(subscriber.messages))


def granted_qos(codes: tuple[int, ...] | list[ReasonCode]) -> list[int]:
    return [code.value if isinstance(code, ReasonCode) else code for code in codes]


class RawClient:
    """A hand-built MQTT 3.1.1 client, to control exactly what reaches the socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, broker: EmbeddedBroker, client_id: str, *, keepalive: int = 60,
                      will: tuple[str, bytes, int, bool] | None = None,
                      username: str | None = None, password: str | None = None,
                      ) -> tuple[RawClient, int]:
        """Connect; returns the client and the CONNACK return code."""
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        flags = 0x02
        payload = encode_string(client_id)
        if will is not None:
            topic, message, qos, retain = will
            flags |= 0x04 | qos << 3 | retain << 5
            payload += encode_string(topic) + len(message).to_bytes(2, "big") + message
        if username is not None:
            flags |= 0x80
            payload += encode_string(username)
        if password is not None:
            flags |= 0x40
            payload += encode_string(password)
        body = encode_string("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
        writer.write(encode_packet(CONNECT << 4, body))
        async with asyncio.timeout(DEADLINE_S):
            header, connack = await read_packet(reader)
        assert header == CONNACK << 4
        assert len(connack) == 2
        return cls(reader, writer), connack[1]

    async def disconnect(self) -> None:
        self.writer.write(encode_packet(DISCONNECT << 4))
        await self.close()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()

    async def closed_by_broker(self) -> bool:
        async with asyncio.timeout(DEADLINE_S):
            return await self.reader.read() == b""


# -- topics and routing ----------------------------------------------------------------------

@pytest.mark.parametrize(("topic_filter", "topic", "matches"), [
    ("a/b", "a/b", True),
    ("a/+", "a/b", True),
    ("a/+", "a/b/c", False),
    ("a/#", "a", True),
    ("a/#", "a/b/c", True),
    ("+/+", "/b", True),
    ("#", "$SYS/broker", False),
    ("+/broker", "$SYS/broker", False),
    ("$SYS/#", "$SYS/broker", True),
])
def test_topic_matching(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


async def test_round_trip_at_qos_0_and_1_with_wildcards(broker: EmbeddedBroker) -> None:
    async with client(broker) as subscriber, client(broker) as publisher:
        granted = await subscriber.subscribe([("sensors/+/temp", 0), ("alarms/#", 1)])
        assert granted_qos(granted) == [0, 1]
        await publisher.publish("sensors/a/b/temp", b"not matched", qos=1)
        await publisher.publish("sensors/a/temp", b"21.5", qos=1)
        await publisher.publish("alarms", b"parent level", qos=1)
        await publisher.publish("alarms/cell/3", b"overvoltage", qos=0)
        await publisher.publish("alarms/cell/4", b"undervoltage", qos=1)

        received = [await next_message(subscriber) for _ in range(4)]
        assert [(m.topic.value, m.payload, m.qos) for m in received] == [
            ("sensors/a/temp", b"21.5", 0),  # min(published 1, granted 0)
            ("alarms", b"parent level", 1),
            ("alarms/cell/3", b"overvoltage", 0),
            ("alarms/cell/4", b"undervoltage", 1),
        ]
        assert not any(message.retain for message in received)


async def test_qos_2_is_acknowledged_and_delivered(broker: EmbeddedBroker) -> None:
    async with client(broker) as subscriber, client(broker) as publisher:
        assert granted_qos(await subscriber.subscribe("pack/#", qos=2)) == [2]
        await publisher.publish("pack/soc", b"0.8", qos=2)
        message = await next_message(subscriber)
        assert (message.topic.value, message.payload, message.qos) == ("pack/soc", b"0.8", 2)


async def test_dollar_topics_are_not_matched_by_leading_wildcards(
        broker: EmbeddedBroker) -> None:
    async with client(broker) as subscriber, client(broker) as publisher:
        await subscriber.subscribe([("#", 0), ("+/uptime", 0)])
        await publisher.publish("$SYS/uptime", b"hidden")
        await publisher.publish("marker", b"visible")
        message = await next_message(subscriber)
        assert message.topic.value == "marker"


async def test_unsubscribe_stops_delivery(broker: EmbeddedBroker) -> None:
    async with client(broker) as subscriber, client(broker) as publisher:
        await subscriber.subscribe([("a", 0), ("b", 0)])
        await subscriber.unsubscribe("a")
        await publisher.publish("a", b"after unsubscribe")
        await publisher.publish("b", b"marker")
        assert (await next_message(subscriber)).topic.value == "b"


async def test_multi_megabyte_payload(broker: EmbeddedBroker) -> None:
    payload = bytes(range(256)) * (3 * 4096)  # 3 MiB: a 4-byte remaining length
    async with client(broker) as subscriber, client(broker) as publisher:
        await subscriber.subscribe("blob", qos=1)
        await publisher.publish("blob", payload, qos=1)
        assert (await next_message(subscriber)).payload == payload


async def test_retained_message_is_kept_and_deleted(broker: EmbeddedBroker) -> None:
    async with client(broker) as publisher:
        await publisher.publish("status/master", b"online", qos=1, retain=True)
        async with client(broker) as late:
            await late.subscribe("status/#", qos=1)
            message = await next_message(late)
            assert (message.topic.value, message.payload) == ("status/master", b"online")
            assert message.retain
            assert message.qos == 1

            await publisher.publish("status/master", b"", qos=1, retain=True)
            # the deletion reaches current subscribers as an ordinary message
            deletion = await next_message(late)
            assert (deletion.payload, deletion.retain) == (b"", False)
        assert "status/master" not in broker.retained

        async with client(broker) as later:
            await later.subscribe([("status/#", 1), ("marker", 1)])
            await publisher.publish("marker", b"after", qos=1)
            assert (await next_message(later)).topic.value == "marker"


# -- wills, keep-alive, takeover, stop -----------------------------------------------------

async def test_will_is_published_when_the_socket_closes_without_disconnect(
        broker: EmbeddedBroker) -> None:
    async with client(broker) as subscriber:
        await subscriber.subscribe("clients/+/state", qos=1)
        raw, code = await RawClient.connect(
            broker, "slave-1", will=("clients/slave-1/state", b"lost", 1, True))
        assert code == 0
        await raw.close()
        message = await next_message(subscriber)
        assert (message.topic.value, message.payload, message.qos) == (
            "clients/slave-1/state", b"lost", 1)
    assert broker.retained["clients/slave-1/state"].payload == b"lost"


async def test_no_will_after_a_clean_disconnect(broker: EmbeddedBroker) -> None:
    async with client(broker) as subscriber:
        await subscriber.subscribe("clients/#", qos=1)
        will = aiomqtt.Will("clients/tidy/state", b"lost", qos=1)
        async with client(broker, identifier="tidy", will=will):
            assert "tidy" in broker.client_ids
        raw, _ = await RawClient.connect(broker, "raw-tidy", will=("clients/raw/state", b"x", 0,
                                                                   False))
        await raw.disconnect()
        await wait_until(lambda: not broker.client_ids & {"tidy", "raw-tidy"}, DEADLINE_S,
                         "the broker drops both clients")
        async with client(broker) as publisher:
            await publisher.publish("clients/marker", b"marker", qos=1)
        assert (await next_message(subscriber)).topic.value == "clients/marker"


async def test_will_is_published_when_the_keep_alive_expires(broker: EmbeddedBroker) -> None:
    broker.keepalive_grace = 0.2  # 1 s keep-alive: disconnected after 0.2 s of silence
    async with client(broker) as subscriber:
        await subscriber.subscribe("clients/#")
        raw, _ = await RawClient.connect(broker, "silent", keepalive=1,
                                         will=("clients/silent", b"timed out", 0, False))
        message = await next_message(subscriber)
        assert (message.topic.value, message.payload) == ("clients/silent", b"timed out")
        assert await raw.closed_by_broker()
        await raw.close()


async def test_same_client_id_kicks_the_old_connection(broker: EmbeddedBroker) -> None:
    async with client(broker) as subscriber:
        await subscriber.subscribe("clients/#")
        old, _ = await RawClient.connect(broker, "twin", will=("clients/twin", b"old", 0, False))
        new, code = await RawClient.connect(broker, "twin")
        assert code == 0
        assert await old.closed_by_broker()
        assert (await next_message(subscriber)).payload == b"old"
        assert "twin" in broker.client_ids
        await old.close()
        await new.close()


async def test_stop_closes_every_connection_without_wills(
        monkeypatch: pytest.MonkeyPatch) -> None:
    broker = EmbeddedBroker()
    port = await broker.start()
    assert port == broker.port != 0
    published: list[Message] = []
    monkeypatch.setattr(broker, "publish", published.append)
    raw, _ = await RawClient.connect(broker, "left", will=("w", b"will", 0, True))
    await broker.stop()
    assert await raw.closed_by_broker()
    await raw.close()
    assert published == []
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


# -- authentication --------------------------------------------------------------------------

def hashed_6(password: str, salt: bytes = b"0123456789ab") -> str:
    derived = hashlib.sha512(password.encode() + salt).digest()
    return f"$6${base64.b64encode(salt).decode()}${base64.b64encode(derived).decode()}"


def test_verify_password_hand_computed() -> None:
    assert verify_password(hashed_7("secret"), b"secret")
    assert not verify_password(hashed_7("secret"), b"Secret")
    assert verify_password(hashed_6("secret"), b"secret")
    assert not verify_password(hashed_6("secret"), b"secre")
    assert not verify_password("secret", b"secret")  # plain text is not a hash
    assert not verify_password("$7$x$!!$!!", b"secret")


async def check_password_file(password_file: Path) -> None:
    async with EmbeddedBroker(password_file=password_file, allow_anonymous=False) as broker:
        async with client(broker, username="alice", password="secret") as alice:
            await alice.publish("ok", b"1")
        with pytest.raises(aiomqtt.MqttCodeError) as refused:
            async with client(broker, username="alice", password="wrong"):
                pass
        assert refused.value.rc == ReasonCode(PacketTypes.CONNACK, "Bad user name or password")
        with pytest.raises(aiomqtt.MqttCodeError) as refused:
            async with client(broker):
                pass
        assert refused.value.rc == ReasonCode(PacketTypes.CONNACK, "Not authorized")

        for username, password, expected in [("alice", "wrong", BAD_USER_NAME_OR_PASSWORD),
                                             ("mallory", "secret", BAD_USER_NAME_OR_PASSWORD),
                                             ("alice", None, BAD_USER_NAME_OR_PASSWORD),
                                             (None, None, NOT_AUTHORIZED),
                                             ("bob", "hunter2", 0)]:
            raw, code = await RawClient.connect(broker, "raw", username=username,
                                                password=password)
            assert code == expected, (username, password)
            if code:
                assert await raw.closed_by_broker()
            await raw.close()


async def test_hand_computed_password_file(tmp_path: Path) -> None:
    password_file = tmp_path / "passwd"
    password_file.write_text(f"alice:{hashed_7('secret')}\nbob:{hashed_6('hunter2')}\n")
    await check_password_file(password_file)


@pytest.fixture(params=["sha512-pbkdf2", "sha512"])
def mosquitto_password_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """alice:secret and bob:hunter2, hashed by ``mosquitto_passwd -H <param>``."""
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("no mosquitto_passwd here")
    password_file = tmp_path / "passwd"
    for create, (username, password) in [("-c", ("alice", "secret")), ("", ("bob", "hunter2"))]:
        subprocess.run(["mosquitto_passwd", "-H", request.param, *filter(None, [create]), "-b",
                        str(password_file), username, password], check=True, timeout=10)
    prefix = "$7$" if request.param == "sha512-pbkdf2" else "$6$"
    assert all(line.split(":")[1].startswith(prefix)
               for line in password_file.read_text().splitlines())
    return password_file


async def test_mosquitto_passwd_file(mosquitto_password_file: Path) -> None:
    await check_password_file(mosquitto_password_file)


async def test_anonymous_allowed_alongside_a_password_file(tmp_path: Path) -> None:
    password_file = tmp_path / "passwd"
    password_file.write_text(f"alice:{hashed_7('secret')}\n")
    async with EmbeddedBroker(password_file=password_file) as broker:
        async with client(broker) as anonymous:
            await anonymous.publish("ok", b"1")
        with pytest.raises(aiomqtt.MqttCodeError):
            async with client(broker, username="alice", password="wrong"):
                pass


# -- authorisation ---------------------------------------------------------------------------

ACL = """\
# anonymous clients
topic read public/#

user alice
topic readwrite sensors/#
topic markers/#

user bob
topic read sensors/#
topic read markers/#
topic write markers/bob
topic deny sensors/secret

user carol
topic write sensors/#
topic read markers/#

pattern readwrite users/%u/#
pattern write clients/%c/state
"""


@pytest.fixture
async def acl_broker(tmp_path: Path) -> AsyncIterator[EmbeddedBroker]:
    acl_file = tmp_path / "acl"
    acl_file.write_text(ACL)
    async with EmbeddedBroker(acl_file=acl_file) as running:
        yield running


def test_acl_rules(tmp_path: Path) -> None:
    acl_file = tmp_path / "acl"
    acl_file.write_text(ACL)
    acl = Acl.load(acl_file)
    read, write = 1, 2
    assert acl.allows(None, "c", "public/x", read)
    assert not acl.allows(None, "c", "public/x", write)
    assert acl.allows("alice", "c", "markers/a", read | write)  # default readwrite
    assert acl.allows("bob", "c", "sensors/a", read)
    assert not acl.allows("bob", "c", "sensors/secret", read)
    assert not acl.allows("bob", "c", "sensors/a", write)
    assert acl.allows("dave", "c", "users/dave/x", write)
    assert not acl.allows("dave", "c", "users/erin/x", read)
    assert not acl.allows(None, "c", "users/%u/x", read)  # %u never applies to anonymous clients
    assert not acl.allows("a+b", "c", "users/a+b/x", read)
    assert acl.allows(None, "slave-1", "clients/slave-1/state", write)
    assert not acl.allows(None, "slave-1", "clients/slave-2/state", write)


async def test_publish_without_write_access_is_dropped(acl_broker: EmbeddedBroker) -> None:
    async with (client(acl_broker, username="alice") as alice,
                client(acl_broker, username="bob") as bob):
        await alice.subscribe([("sensors/#", 1), ("markers/#", 1)])
        await bob.publish("sensors/cell", b"denied", qos=1)  # still acknowledged
        await bob.publish("markers/bob", b"marker", qos=1)
        message = await next_message(alice)
        assert (message.topic.value, message.payload) == ("markers/bob", b"marker")


async def test_subscriber_without_read_access_receives_nothing(
        acl_broker: EmbeddedBroker) -> None:
    async with (client(acl_broker, username="alice") as alice,
                client(acl_broker, username="bob") as bob,
                client(acl_broker, username="carol") as carol):
        # SUBACK grants what was asked for, as Mosquitto 2 does; delivery is filtered
        assert granted_qos(await carol.subscribe([("sensors/#", 1), ("markers/#", 1)])) == [1, 1]
        await bob.subscribe("sensors/#", qos=1)
        await alice.publish("sensors/cell", b"for readers", qos=1)
        await alice.publish("markers/alice", b"marker", qos=1)
        assert (await next_message(carol)).topic.value == "markers/alice"
        assert (await next_message(bob)).payload == b"for readers"


async def test_retained_messages_respect_read_access(acl_broker: EmbeddedBroker) -> None:
    async with client(acl_broker, username="alice") as alice:
        await alice.publish("sensors/cell", b"retained", qos=1, retain=True)
        await alice.publish("markers/alice", b"retained marker", qos=1, retain=True)
        async with client(acl_broker, username="carol") as carol:
            await carol.subscribe([("sensors/#", 1), ("markers/#", 1)])
            message = await next_message(carol)
            assert (message.topic.value, message.retain) == ("markers/alice", True)
            assert len(carol.messages) == 0


async def test_will_needs_write_access(acl_broker: EmbeddedBroker) -> None:
    async with client(acl_broker, username="alice") as alice:
        await alice.subscribe([("sensors/#", 0), ("markers/#", 0)])
        denied, _ = await RawClient.connect(acl_broker, "bob-1", username="bob",
                                            will=("sensors/bob", b"denied will", 0, False))
        await denied.close()
        await wait_until(lambda: "bob-1" not in acl_broker.client_ids, DEADLINE_S,
                         "the broker drops bob-1")
        allowed, _ = await RawClient.connect(acl_broker, "bob-2", username="bob",
                                             will=("markers/bob", b"allowed will", 0, False))
        await allowed.close()
        message = await next_message(alice)
        assert (message.topic.value, message.payload) == ("markers/bob", b"allowed will")


async def test_patterns_substitute_user_name_and_client_id(acl_broker: EmbeddedBroker) -> None:
    async with (client(acl_broker, username="dave", identifier="slave-7") as dave,
                client(acl_broker, username="erin") as erin):
        await dave.subscribe([("users/#", 0), ("clients/#", 0)])
        await erin.publish("users/dave/inbox", b"denied: not erin's")
        await dave.publish("clients/slave-7/state", b"up")  # writable, but not readable
        await dave.publish("users/dave/inbox", b"own")
        message = await next_message(dave)
        assert (message.topic.value, message.payload) == ("users/dave/inbox", b"own")
