"""The virtual site as real processes (`bms site virtual`, headless): three packs with their
masters, slaves and brokers bridged to the site broker, the DC bus with the inverter, and
the site controller; every pack joins, in the order the join window allows, and the site
never promises the inverter more than the connected packs allow."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from bms.settings import bus_kwargs, load_settings
from sim.launcher import STOP_GRACE_S
from sim.site_brokers import missing
from sim.site_configs import PACK_PROFILE
from testbed.startup import SAFETY, cores, node_starts

pytestmark = [pytest.mark.multiprocess,
              pytest.mark.skipif(missing() is not None, reason=str(missing()))]

DURATION_S = 60.0
PACKS = 3
PLANT_AND_SITE = 2 + PACKS + 1  # the DC bus, the site controller, the brokers
STOP_GROUPS = 4  # the site, the masters, the plant and slaves, the brokers (sim/site_launcher)
SETTLE_S = 10.0  # a master's first state across its bridge; the site's first decisions


async def test_every_pack_joins_in_the_order_of_the_window(tmp_path: Path) -> None:
    pack = load_settings(PACK_PROFILE)
    starts = await node_starts(bus_kwargs(pack, "pack"), ["--config", str(PACK_PROFILE)])
    processes = PACKS * (pack.pack.modules + 1) + PLANT_AND_SITE
    start_s = SAFETY * (processes * starts.slave_s / cores() + starts.master_s + SETTLE_S)
    deadline_s = start_s + DURATION_S + STOP_GROUPS * STOP_GRACE_S
    summary_path = tmp_path / "summary.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bms", "site", "virtual", "--duration", str(DURATION_S),
        "--headless", "--run-dir", str(tmp_path / "run"), "--summary-json", str(summary_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(deadline_s):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    summary = json.loads(summary_path.read_text())
    assert summary["ok"], summary["problems"]
    assert [p["name"] for p in summary["packs"] if p["connected"] and p["role"] == "connected"] \
        == ["pack-1", "pack-2", "pack-3"]
    # pack-1 and pack-2 start 0.2 V apart (within the 0.8 V window), pack-3 0.95 V below
    # them: the first two join, then the site steers the bus down to pack-3, which joins last
    order = summary["join_order"]
    assert sorted(order[:2]) == ["pack-1", "pack-2"]
    assert order[2] == "pack-3"
    joined_s = {join["pack"]: join["t_s"] for join in summary["joins"]}
    steered = [s for s in summary["steering"]
               if s["steering"] == "discharge" and s["reason"].startswith("pack-3 waits")]
    assert steered, summary["steering"]
    assert max(joined_s["pack-1"], joined_s["pack-2"]) <= steered[0]["t_s"] < joined_s["pack-3"]
    check = summary["inverter_limits"]
    assert check["frames"] > 0
    assert check["violations"] == 0
    assert all(child["exit_code"] == 0 for child in summary["children"].values()), \
        {role: child["exit_code"] for role, child in summary["children"].items()}
    plant = summary["plant"]
    assert plant["inverter"]["ready"]  # the BYD handshake: it identified the site
    assert plant["inverter"]["charge_s"] > 0
    assert plant["inverter"]["discharge_s"] > 0
    assert "connected 3/3" in text
    assert "all processes stopped cleanly" in text
