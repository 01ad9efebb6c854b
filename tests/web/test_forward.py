"""The relay from a loopback TCP port to the dashboard's Unix socket (`./run pack`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from web.forward import relay


async def test_a_connection_is_relayed_both_ways_and_refused_without_a_dashboard(
        tmp_path: Path) -> None:
    socket_path = tmp_path / "web.sock"

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.readexactly(5))
        await writer.drain()
        writer.close()

    stop = asyncio.Event()
    ports: list[int] = []
    listening = asyncio.Event()

    def told(port: int) -> None:
        ports.append(port)
        listening.set()

    task = asyncio.create_task(relay(0, socket_path, stop, told))
    try:
        await asyncio.wait_for(listening.wait(), 10)
        reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
        assert await asyncio.wait_for(reader.read(), 10) == b""  # nothing serves there yet
        writer.close()
        server = await asyncio.start_unix_server(echo, str(socket_path))
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
            writer.write(b"hello")
            assert await asyncio.wait_for(reader.read(), 10) == b"echo:hello"
            writer.close()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
