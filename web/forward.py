"""A TCP port on this host's loopback relayed to the dashboard's Unix socket: the virtual
pack runs in a network namespace of its own (only loopback), which a browser outside it
cannot reach, but a Unix socket is a file, the same on both sides (`./run pack`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


async def relay(port: int, socket_path: Path, stop: asyncio.Event,
                listening: Callable[[int], None]) -> None:
    """Until ``stop``: each connection to 127.0.0.1:``port`` (0: any free port, told to
    ``listening``) relayed to ``socket_path``; refused while nothing serves there."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            inner_reader, inner_writer = await asyncio.open_unix_connection(str(socket_path))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))

    server = await asyncio.start_server(connection, "127.0.0.1", port)
    async with server:
        listening(int(server.sockets[0].getsockname()[1]))
        await stop.wait()
