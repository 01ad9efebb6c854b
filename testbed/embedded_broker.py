"""A small MQTT 3.1.1 broker on asyncio, for tests when the ``mosquitto`` binary is absent.

Supported: CONNECT/CONNACK (clean session semantics only; a reconnect with a client id that
is already connected kicks the old connection, which then publishes its will), PUBLISH at
QoS 0, 1 and 2 in both directions (no redelivery, nothing persists), SUBSCRIBE and
UNSUBSCRIBE with ``+``/``#`` wildcards, retained messages, PINGREQ, DISCONNECT, will
messages and keep-alive expiry (no packet for ``keepalive_grace`` × the keep-alive).

Authentication reads a Mosquitto password file (``$7$`` PBKDF2-SHA512 and ``$6$`` SHA512
lines, as ``mosquitto_passwd`` writes them); authorisation reads a Mosquitto ACL file
(``user``, ``topic`` and ``pattern`` lines with ``%u``/``%c``; access ``read``, ``write``,
``readwrite`` or ``deny``).

``stop()`` closes every connection without publishing any will. Not supported: MQTT 5,
persistent sessions, message redelivery, ``$SYS`` topics, TLS, websockets.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

# packet types (the high nibble of the fixed header)
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = range(8, 15)

# CONNACK return codes
ACCEPTED = 0
UNACCEPTABLE_PROTOCOL_VERSION = 1
IDENTIFIER_REJECTED = 2
BAD_USER_NAME_OR_PASSWORD = 4
NOT_AUTHORIZED = 5

SUBACK_FAILURE = 0x80
CONNECT_TIMEOUT_S = 10.0

# ACL access bits
READ, WRITE = 1, 2
_ACCESS_WORDS = {"read": READ, "write": WRITE, "readwrite": READ | WRITE, "deny": 0}


class ProtocolError(Exception):
    """The client sent something that is not valid MQTT 3.1.1; its connection is closed."""


# -- topics ------------------------------------------------------------------------------------

def valid_topic_name(topic: str) -> bool:
    return bool(topic) and "+" not in topic and "#" not in topic and "\0" not in topic


def valid_topic_filter(topic_filter: str) -> bool:
    if not topic_filter or "\0" in topic_filter:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` (wildcards do not match a leading ``$``)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels) or level not in ("+", topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


# -- password file ---------------------------------------------------------------------------

def load_password_file(path: Path) -> dict[str, str]:
    """``username -> hash`` from a Mosquitto password file."""
    passwords: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            username, _, hashed = line.partition(":")
            passwords[username] = hashed
    return passwords


def verify_password(hashed: str, password: bytes) -> bool:
    """Check ``password`` against a ``$7$`` (PBKDF2-HMAC-SHA512) or ``$6$`` (SHA512) hash."""
    parts = hashed.split("$")
    try:
        if len(parts) == 5 and parts[:2] == ["", "7"]:
            iterations, salt, expected = int(parts[2]), parts[3], parts[4]
            derived = hashlib.pbkdf2_hmac("sha512", password, base64.b64decode(salt),
                                          iterations, dklen=64)
        elif len(parts) == 4 and parts[:2] == ["", "6"]:
            salt, expected = parts[2], parts[3]
            derived = hashlib.sha512(password + base64.b64decode(salt)).digest()
        else:
            return False
        return hmac.compare_digest(derived, base64.b64decode(expected))
    except (ValueError, binascii.Error):
        return False


# -- ACL file --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AclRule:
    access: int
    topic_filter: str


@dataclass
class Acl:
    """Mosquitto ACL rules: ``topic`` lines per user (``None``: anonymous) and ``pattern`` lines."""

    topics: dict[str | None, list[AclRule]] = field(default_factory=dict)
    patterns: list[AclRule] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Acl:
        acl = cls()
        user: str | None = None
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keyword, _, rest = line.partition(" ")
            rest = rest.strip()
            if keyword == "user" and rest:
                user = rest
                continue
            if keyword not in ("topic", "pattern") or not rest:
                raise ValueError(f"{path}:{number}: cannot parse ACL line {raw!r}")
            word, _, topic_filter = rest.partition(" ")
            if word in _ACCESS_WORDS and topic_filter.strip():
                rule = AclRule(_ACCESS_WORDS[word], topic_filter.strip())
            else:
                rule = AclRule(READ | WRITE, rest)
            if keyword == "topic":
                acl.topics.setdefault(user, []).append(rule)
            else:
                acl.patterns.append(rule)
        return acl

    def allows(self, username: str | None, client_id: str, topic: str, access: int) -> bool:
        rules = list(self.topics.get(username, []))
        for rule in self.patterns:
            if "%u" in rule.topic_filter and (username is None or _has_wildcard(username)):
                continue
            if "%c" in rule.topic_filter and _has_wildcard(client_id):
                continue
            topic_filter = rule.topic_filter.replace("%c", client_id)
            if username is not None:
                topic_filter = topic_filter.replace("%u", username)
            rules.append(AclRule(rule.access, topic_filter))
        matching = [rule for rule in rules if topic_matches(rule.topic_filter, topic)]
        if any(rule.access == 0 for rule in matching):
            return False
        return any(rule.access & access for rule in matching)


def _has_wildcard(name: str) -> bool:
    return "+" in name or "#" in name


# -- packets ---------------------------------------------------------------------------------

def _encode_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        length, byte = divmod(length, 128)
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def encode_packet(header: int, body: bytes = b"") -> bytes:
    return bytes([header]) + _encode_length(len(body)) + body


def encode_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return len(data).to_bytes(2, "big") + data


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One packet: its first header byte and its body."""
    header = (await reader.readexactly(1))[0]
    length, multiplier = 0, 1
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            return header, await reader.readexactly(length)
        multiplier *= 128
    raise ProtocolError("malformed remaining length")


class _Body:
    """Reads the fields of a packet body."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def _take(self, count: int) -> bytes:
        if self._offset + count > len(self._data):
            raise ProtocolError("packet too short")
        chunk = self._data[self._offset:self._offset + count]
        self._offset += count
        return chunk

    def byte(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self._take(2), "big")

    def binary(self) -> bytes:
        return self._take(self.u16())

    def string(self) -> str:
        try:
            text = self.binary().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not UTF-8") from exc
        if "\0" in text:
            raise ProtocolError("string contains U+0000")
        return text

    def rest(self) -> bytes:
        return self._take(len(self._data) - self._offset)

    @property
    def exhausted(self) -> bool:
        return self._offset == len(self._data)


# -- broker ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(eq=False)
class _Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    client_id: str = ""
    username: str | None = None
    keepalive: int = 0
    will: Message | None = None
    subscriptions: dict[str, int] = field(default_factory=dict)
    incoming_qos2: set[int] = field(default_factory=set)
    last_packet_id: int = 0

    def send(self, header: int, body: bytes = b"") -> None:
        if not self.writer.is_closing():
            self.writer.write(encode_packet(header, body))

    def deliver(self, message: Message) -> None:
        body = encode_string(message.topic)
        if message.qos:
            self.last_packet_id = self.last_packet_id % 0xFFFF + 1
            body += self.last_packet_id.to_bytes(2, "big")
        self.send(PUBLISH << 4 | message.qos << 1 | message.retain, body + message.payload)


class EmbeddedBroker:
    """An MQTT 3.1.1 broker: ``async with EmbeddedBroker() as broker:`` then ``broker.port``."""

    keepalive_grace = 1.5
    """A client that sends no packet for this many times its keep-alive is disconnected."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, password_file: Path | None = None,
                 acl_file: Path | None = None, allow_anonymous: bool = True) -> None:
        self.host = host
        self.port = port
        self.password_file = password_file
        self.acl_file = acl_file
        self.allow_anonymous = allow_anonymous
        self.retained: dict[str, Message] = {}
        self._passwords: dict[str, str] | None = None
        self._acl: Acl | None = None
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._connections: set[_Client] = set()
        self._clients: dict[str, _Client] = {}
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def client_ids(self) -> set[str]:
        """The ids of the clients connected now (after their CONNACK)."""
        return set(self._clients)

    async def start(self) -> int:
        """Read the password and ACL files, listen; returns the bound port."""
        if self._server is not None:
            raise RuntimeError("the broker is already running")
        self._passwords = load_password_file(self.password_file) if self.password_file else None
        self._acl = Acl.load(self.acl_file) if self.acl_file else None
        self._stopping = False
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.debug("MQTT broker listening on %s:%d", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Close every connection (flushing what was queued for it; no will is published)."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        for client in self._connections:
            client.writer.close()
        if self._handlers:
            _, pending = await asyncio.wait(self._handlers, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        self.retained.clear()
        logger.debug("MQTT broker on port %d stopped", self.port)

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def publish(self, message: Message) -> None:
        """Route ``message`` to the subscribers that may read it; keep it if retained."""
        if message.retain:
            if message.payload:
                self.retained[message.topic] = message
            else:
                self.retained.pop(message.topic, None)
        for client in self._clients.values():
            granted = [qos for topic_filter, qos in client.subscriptions.items()
                       if topic_matches(topic_filter, message.topic)]
            if granted and self._allowed(client, message.topic, READ):
                client.deliver(Message(message.topic, message.payload,
                                       min(message.qos, max(granted)), retain=False))

    def _allowed(self, client: _Client, topic: str, access: int) -> bool:
        if self._acl is None:
            return True
        return self._acl.allows(client.username, client.client_id, topic, access)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        client = _Client(reader, writer)
        self._connections.add(client)
        try:
            await self._session(client)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ProtocolError) as exc:
            logger.debug("client %r: connection ends: %r", client.client_id, exc)
        except Exception:
            logger.debug("client %r: internal error", client.client_id, exc_info=True)
        finally:
            if self._clients.get(client.client_id) is client:
                del self._clients[client.client_id]
            will = None if self._stopping else client.will
            if will is not None and self._allowed(client, will.topic, WRITE):
                logger.debug("client %r: publishing its will", client.client_id)
                self.publish(will)
            self._connections.discard(client)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _session(self, client: _Client) -> None:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            header, body = await read_packet(client.reader)
        if header != CONNECT << 4:
            raise ProtocolError("the first packet is not a CONNECT")
        if not self._connect(client, _Body(body)):
            await client.writer.drain()
            return
        await client.writer.drain()
        while True:
            timeout = client.keepalive * self.keepalive_grace if client.keepalive else None
            async with asyncio.timeout(timeout):
                header, body = await read_packet(client.reader)
            if not self._handle(client, header, _Body(body)):
                return
            await client.writer.drain()

    def _connect(self, client: _Client, body: _Body) -> bool:
        protocol, level = body.string(), body.byte()
        flags, client.keepalive = body.byte(), body.u16()
        client_id = body.string()
        will: Message | None = None
        if flags & 0x04:
            will_topic, will_payload = body.string(), body.binary()
            if not valid_topic_name(will_topic) or (flags >> 3 & 3) == 3:
                raise ProtocolError("bad will")
            will = Message(will_topic, will_payload, flags >> 3 & 3, bool(flags & 0x20))
        username = body.string() if flags & 0x80 else None
        password = body.binary() if flags & 0x40 else None
        if flags & 0x01 or (password is not None and username is None):
            raise ProtocolError("bad CONNECT flags")
        if (protocol, level) not in (("MQTT", 4), ("MQIsdp", 3)):
            client.send(CONNACK << 4, bytes([0, UNACCEPTABLE_PROTOCOL_VERSION]))
            return False
        if not client_id:
            if not flags & 0x02:
                client.send(CONNACK << 4, bytes([0, IDENTIFIER_REJECTED]))
                return False
            client_id = f"auto-{uuid.uuid4().hex}"
        client.client_id, client.username = client_id, username
        code = self._authenticate(username, password)
        if code != ACCEPTED:
            logger.debug("client %r (user %r): refused with %d", client_id, username, code)
            client.send(CONNACK << 4, bytes([0, code]))
            return False
        old = self._clients.get(client_id)
        if old is not None:
            logger.debug("client %r: taking over from an older connection", client_id)
            old.writer.close()
        self._clients[client_id] = client
        client.will = will
        client.send(CONNACK << 4, bytes([0, ACCEPTED]))
        logger.debug("client %r (user %r) connected", client_id, username)
        return True

    def _authenticate(self, username: str | None, password: bytes | None) -> int:
        if username is None or self._passwords is None:
            return ACCEPTED if self.allow_anonymous else NOT_AUTHORIZED
        hashed = self._passwords.get(username)
        if hashed is None or password is None or not verify_password(hashed, password):
            return BAD_USER_NAME_OR_PASSWORD
        return ACCEPTED

    def _handle(self, client: _Client, header: int, body: _Body) -> bool:
        """Act on one packet after CONNECT; ``False`` when the client disconnects."""
        kind, flags = header >> 4, header & 0x0F
        if kind == PUBLISH:
            self._on_publish(client, flags, body)
        elif kind in (PUBACK, PUBCOMP):
            body.u16()
        elif kind == PUBREC:
            client.send(PUBREL << 4 | 0x02, body.u16().to_bytes(2, "big"))
        elif kind == PUBREL:
            packet_id = body.u16()
            client.incoming_qos2.discard(packet_id)
            client.send(PUBCOMP << 4, packet_id.to_bytes(2, "big"))
        elif kind == SUBSCRIBE and flags == 0x02:
            self._on_subscribe(client, body)
        elif kind == UNSUBSCRIBE and flags == 0x02:
            packet_id = body.u16()
            while not body.exhausted:
                client.subscriptions.pop(body.string(), None)
            client.send(UNSUBACK << 4, packet_id.to_bytes(2, "big"))
        elif kind == PINGREQ:
            client.send(PINGRESP << 4)
        elif kind == DISCONNECT:
            client.will = None
            return False
        else:
            raise ProtocolError(f"unexpected packet type {kind} (flags {flags:#x})")
        return True

    def _on_publish(self, client: _Client, flags: int, body: _Body) -> None:
        qos, retain = flags >> 1 & 3, bool(flags & 1)
        topic = body.string()
        packet_id = body.u16() if qos else 0
        payload = body.rest()
        if qos == 3 or not valid_topic_name(topic):
            raise ProtocolError(f"bad PUBLISH to {topic!r} at QoS {qos}")
        if qos < 2 or packet_id not in client.incoming_qos2:
            if qos == 2:
                client.incoming_qos2.add(packet_id)
            if self._allowed(client, topic, WRITE):
                self.publish(Message(topic, payload, qos, retain))
            else:
                logger.debug("client %r may not publish to %r", client.client_id, topic)
        if qos == 1:
            client.send(PUBACK << 4, packet_id.to_bytes(2, "big"))
        elif qos == 2:
            client.send(PUBREC << 4, packet_id.to_bytes(2, "big"))

    def _on_subscribe(self, client: _Client, body: _Body) -> None:
        packet_id = body.u16()
        requests: list[tuple[str, int]] = []
        while not body.exhausted:
            requests.append((body.string(), body.byte()))
        if not requests:
            raise ProtocolError("SUBSCRIBE without a topic filter")
        codes = bytearray()
        for topic_filter, qos in requests:
            if qos > 2 or not valid_topic_filter(topic_filter):
                codes.append(SUBACK_FAILURE)
                continue
            client.subscriptions[topic_filter] = qos
            codes.append(qos)
        client.send(SUBACK << 4, packet_id.to_bytes(2, "big") + bytes(codes))
        for topic_filter, qos in requests:
            if qos > 2 or not valid_topic_filter(topic_filter):
                continue
            for message in list(self.retained.values()):
                if (topic_matches(topic_filter, message.topic)
                        and self._allowed(client, message.topic, READ)):
                    client.deliver(Message(message.topic, message.payload,
                                           min(qos, message.qos), retain=True))
