"""A broker for the MQTT tests: Mosquitto with the project's configuration (deploy/mosquitto:
its mosquitto.conf, ACL, and users made by its make-users.sh) on a free loopback port, or,
where the mosquitto binary is absent, the embedded Python broker with the same users and
ACL (BMS_TEST_BROKER=embedded forces it). The suite runs in a private network namespace, so
this loopback is ours alone."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sim import broker
from testbed.embedded_broker import EmbeddedBroker

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "deploy" / "mosquitto"
PASSWORDS = {"bms-master": "master-secret", "operator": "operator-secret",
             "monitor": "monitor-secret", "historian": "historian-secret",
             "homeassistant": "homeassistant-secret"}
PASSWORD_ENV = broker.USERS_ENV
READY_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _accepting(port: int, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            return



def hashed_7(password: str, salt: bytes = b"0123456789ab", iterations: int = 101) -> str:
    """A password line's hash as mosquitto_passwd writes it ($7$: PBKDF2-SHA512)."""
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(derived).decode()}"

@dataclass
class ProjectBroker:
    """Stop and start again on the same port (an outage); ``kind`` says which broker."""

    directory: Path
    port: int = field(default_factory=free_port)
    kind: str = field(default_factory=lambda: os.environ.get("BMS_TEST_BROKER") or (
        "mosquitto" if shutil.which("mosquitto") else "embedded"))
    _process: asyncio.subprocess.Process | None = None
    _embedded: EmbeddedBroker | None = None

    host = "127.0.0.1"

    def configure(self) -> None:
        """The project's broker files, with the users' test passwords, for this port."""
        config = self.directory / "config"
        if self.kind == "mosquitto":
            broker.configure(self.directory, self.port, PASSWORDS)
        else:
            config.mkdir(parents=True, exist_ok=True)
            (config / "acl").write_text((PROJECT / "acl").read_text())
            (config / "passwd").write_text("".join(
                f"{user}:{hashed_7(password, os.urandom(12))}\n"
                for user, password in PASSWORDS.items()))

    async def start(self) -> None:
        config = self.directory / "config"
        if self.kind == "mosquitto":
            log = (self.directory / "mosquitto.log").open("ab")
            self._process = await asyncio.create_subprocess_exec(
                "mosquitto", "-c", str(config / "mosquitto.conf"), stdout=log, stderr=log)
            log.close()
            await _accepting(self.port, READY_TIMEOUT_S)
        else:
            self._embedded = EmbeddedBroker(port=self.port, password_file=config / "passwd",
                                            acl_file=config / "acl", allow_anonymous=False)
            await self._embedded.start()

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        if self._embedded is not None:
            await self._embedded.stop()
            self._embedded = None


@asynccontextmanager
async def project_broker(directory: Path) -> AsyncIterator[ProjectBroker]:
    broker = ProjectBroker(directory)
    broker.configure()
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
