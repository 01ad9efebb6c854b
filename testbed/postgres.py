"""A PostgreSQL server of the tests' own: Debian's binaries, a fresh cluster in a temporary
directory, on a free loopback port, as the ``postgres`` user when the tests run as root (the
server refuses root), trust authentication on 127.0.0.1 only; stopped and started again on
the same port for an outage."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from testbed.brokers import free_port

START_TIMEOUT_S = 60


def binaries() -> Path | None:
    """The newest installed server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresServer:
    directory: Path
    port: int = field(default_factory=free_port)
    bin: Path = field(default_factory=lambda: binaries() or Path("/nonexistent"))

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres " \
               "connect_timeout=5"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT_S)

    def init(self) -> None:
        data = self.directory / "data"
        data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            shutil.chown(data, "postgres")
        os.chmod(data, 0o700)
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        data = self.directory / "data"
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} " \
                  "-c fsync=off"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l",
                  str(self.directory / "server.log"), "-w", "-t", str(START_TIMEOUT_S),
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A server in a directory of its own under the temporary directory (the ``postgres``
    user must reach it: pytest's own are root's alone), removed after it."""
    top = Path(tempfile.mkdtemp(prefix="bms-postgres-"))
    os.chmod(top, 0o755)
    server = PostgresServer(top / "server")
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test
            server.stop()
        shutil.rmtree(top, ignore_errors=True)
