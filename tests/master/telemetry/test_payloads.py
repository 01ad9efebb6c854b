"""The telemetry payloads decode with plain msgpack and carry the schema version."""

from __future__ import annotations

import msgpack
import pytest

from bms.settings import load_settings
from dbc.frames import MasterState
from master.store import StoredEvent
from master.telemetry.payloads import (
    SCHEMA_VERSION,
    Topics,
    cells_payload,
    event_payload,
    limits_payload,
    online_payload,
    state_payload,
    unpack,
)
from sim.lockstep import LockstepPack

WALL_S = 1_790_000_000.0


@pytest.fixture(scope="module")
def driving() -> LockstepPack:
    p = LockstepPack(load_settings(None, ["pack.modules=2"]))
    p.run_until(lambda: p.master.state is MasterState.NORMAL, 10.0)
    list(p.run(3.0))
    return p


def plain(data: bytes) -> dict[str, object]:
    value = msgpack.unpackb(data)
    assert isinstance(value, dict)
    assert value["v"] == SCHEMA_VERSION
    return value


def test_topics_are_under_prefix_and_pack() -> None:
    topics = Topics("site", "pack-7")
    assert topics.state == "site/pack-7/state"
    assert topics.command == "site/pack-7/command"
    assert topics.command_result == "site/pack-7/command/result"


def test_state(driving: LockstepPack) -> None:
    state = plain(state_payload(driving.master.report(driving.now_s), WALL_S))
    assert state["t"] == WALL_S
    assert state["state"] == "NORMAL"
    assert state["contactors"] == {"main_plus": True, "main_minus": True, "precharge": False}
    assert isinstance(state["soc_pct"], float)
    assert 0 < state["soc_pct"] < 100
    # the SOC's uncertainty goes with it: the least certain cell's 1-sigma
    report = driving.master.report(driving.now_s)
    assert state["soc_sigma_pct"] == round(100 * max(report.cell_soc_sigma), 2)
    assert 0 < max(report.cell_soc_sigma) < 0.2
    assert state["faults"] == []
    assert state["modules_online"] == 2
    voltage = state["voltage_v"]
    assert isinstance(voltage, float)
    assert 100 < voltage < 150  # 32 NMC cells


def test_cells_are_compact_arrays(driving: LockstepPack) -> None:
    cells = plain(cells_payload(driving.master.report(driving.now_s), WALL_S))
    voltages = cells["voltages_mv"]
    assert isinstance(voltages, list)
    assert len(voltages) == 2 * 16
    assert all(isinstance(v, int) and 3000 < v < 4200 for v in voltages)
    assert cells["modules"] == 2
    assert cells["cells_per_module"] == 16
    temperatures = cells["temperatures_degc"]
    assert isinstance(temperatures, list)
    assert len(temperatures) == 2 * driving.settings.pack.temperature_sensors_per_module


def test_limits(driving: LockstepPack) -> None:
    limits = plain(limits_payload(driving.master.report(driving.now_s), WALL_S))
    assert limits["charge_a"] == round(driving.master.algorithms.limits.charge_a, 2)
    assert isinstance(limits["discharge_limiter"], str)
    assert limits["voltage_max_v"] == round(32 * 4.15, 2)


def test_events_carry_their_store_id() -> None:
    event = StoredEvent(WALL_S, 12.5, "diagnosis", "cell_overvoltage_msl set",
                        entry="cell_overvoltage_msl", change="set", severity="fatal",
                        module=3, element=7, id=42)
    decoded = plain(event_payload(event))
    assert decoded["id"] == 42
    assert decoded["entry"] == "cell_overvoltage_msl"
    assert (decoded["module"], decoded["element"]) == (3, 7)


def test_online_and_a_non_map_is_refused() -> None:
    assert plain(online_payload(False, WALL_S))["online"] is False
    with pytest.raises(ValueError, match="map"):
        unpack(msgpack.packb([1, 2]))
    with pytest.raises(ValueError, match="msgpack"):
        unpack(b"\xc1")
