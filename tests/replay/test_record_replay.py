"""Recording from and replaying onto python-can's in-process virtual bus."""

import asyncio
import io
import threading
import time
import uuid
from pathlib import Path

import can
import pytest

from bms.settings import load_settings
from replay.buses import parse_bus
from replay.logfile import read_log
from replay.record import record
from replay.replayer import replay
from testbed.waiting import wait_until
from tests.replay.logs import lockstep_log


def channel() -> str:
    return f"test-{uuid.uuid4()}"


async def test_record_keeps_every_frame_with_its_bus(tmp_path: Path) -> None:
    name = channel()
    spec = parse_bus(f"virtual:{name}", load_settings())
    path = tmp_path / "recorded.log"
    sent = [can.Message(arbitration_id=0x620 + i % 4, data=bytes([i % 256] * 8),
                        is_extended_id=False) for i in range(300)]
    source = can.Bus(interface="virtual", channel=name)
    progress = io.StringIO()
    task = asyncio.create_task(record([spec], path, duration_s=1.5, out=progress))
    await asyncio.sleep(0.3)  # the recorder opens its bus first: a virtual bus has no history
    for message in sent:
        source.send(message)
    stats = await task
    source.shutdown()
    assert stats.frames == 300
    logged = list(read_log(path))
    assert [(f.frame.arbitration_id, f.frame.data) for f in logged] == \
        [(m.arbitration_id, bytes(m.data)) for m in sent]
    assert {f.channel for f in logged} == {name}
    assert "300 frames" in progress.getvalue()


async def test_rotation_by_time(tmp_path: Path) -> None:
    name = channel()
    spec = parse_bus(f"virtual:{name}", load_settings())
    source = can.Bus(interface="virtual", channel=name)
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            source.send(can.Message(arbitration_id=0x10, data=b"\x00", is_extended_id=False))
            time.sleep(0.01)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        stats = await record([spec], tmp_path / "r.log", rotate_s=1.0, duration_s=2.5,
                             out=io.StringIO())
    finally:
        stop.set()
        feeder.join()
        source.shutdown()
    assert [f.name for f in stats.files] == ["r.000.log", "r.001.log", "r.002.log"]
    assert sum(len(list(read_log(f))) for f in stats.files) == stats.frames


def test_bus_names() -> None:
    settings = load_settings()
    assert parse_bus("pack", settings).kwargs["port"] == 43113
    spec = parse_bus("socketcan:can0", settings, ["bitrate=250000", "fd=false"])
    assert spec.kwargs == {"interface": "socketcan", "channel": "can0", "bitrate": 250000,
                           "fd": False}
    with pytest.raises(Exception, match="INTERFACE:CHANNEL"):
        parse_bus("can0", settings)


def test_replay_sends_everything_in_order_with_the_original_timing(tmp_path: Path) -> None:
    path = tmp_path / "source.log"
    lockstep_log(path, load_settings(None, ["pack.modules=1"]), seconds=1.0)
    expected = [(f.frame.arbitration_id, f.frame.data) for f in read_log(path)]
    span_s = max(f.time_s for f in read_log(path))
    name = channel()
    sink = can.Bus(interface="virtual", channel=name)
    received: list[tuple[int, bytes]] = []
    notifier = can.Notifier(sink, [lambda m: received.append((m.arbitration_id,
                                                              bytes(m.data)))])
    started = time.monotonic()
    stats = replay(path, {"interface": "virtual", "channel": name}, speed=2.0, loop=True,
                   show_progress=False, max_passes=2)
    took_s = time.monotonic() - started
    asyncio.run(wait_until_async(lambda: len(received) == 2 * len(expected)))
    notifier.stop()
    sink.shutdown()
    assert stats.sent == 2 * len(expected)
    assert stats.passes == 2
    assert received == expected + expected
    assert took_s >= 2 * span_s / 2.0 * 0.9  # the original timing, twice as fast


async def wait_until_async(condition) -> None:  # type: ignore[no-untyped-def]
    await wait_until(condition, 5.0, "every replayed frame received")


def test_replay_filter_by_id(tmp_path: Path) -> None:
    path = tmp_path / "source.log"
    lockstep_log(path, load_settings(None, ["pack.modules=1"]), seconds=0.5)
    name = channel()
    sink = can.Bus(interface="virtual", channel=name)
    stats = replay(path, {"interface": "virtual", "channel": name}, speed=100.0,
                   ids={0x620}, show_progress=False)
    ids = set()
    while (message := sink.recv(timeout=0.5)) is not None:
        ids.add(message.arbitration_id)
    sink.shutdown()
    assert ids == {0x620}
    assert stats.sent == sum(1 for f in read_log(path) if f.frame.arbitration_id == 0x620)
