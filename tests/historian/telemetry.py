"""Telemetry as a real master makes it: the lockstep pack's master core, its report turned
into the payloads the MQTT publisher sends (master/telemetry/payloads.py)."""

from __future__ import annotations

from bms.settings import load_settings
from master.store import StoredEvent
from master.telemetry.payloads import (
    cells_payload,
    event_payload,
    limits_payload,
    online_payload,
    state_payload,
)
from sim.lockstep import LockstepPack

T0 = 1_764_000_000.0  # 2025-11-24 16:00 UTC


def pack_messages(pack: str, seconds: int, t0: float = T0, prefix: str = "bms"
                  ) -> list[tuple[str, bytes]]:
    """A small pack driven for ``seconds``: each second its state, cells and limits; one
    online message and one event, as (topic, payload)."""
    lockstep = LockstepPack(load_settings(None, ["pack.modules=2"]))
    out: list[tuple[str, bytes]] = [(f"{prefix}/{pack}/online", online_payload(True, t0))]
    for second in range(seconds):
        while lockstep.now_s < second + 1:
            lockstep.step()
        report = lockstep.master.report(lockstep.now_s)
        wall = t0 + second
        out += [(f"{prefix}/{pack}/state", state_payload(report, wall)),
                (f"{prefix}/{pack}/cells", cells_payload(report, wall)),
                (f"{prefix}/{pack}/limits", limits_payload(report, wall))]
    event = StoredEvent(wall_time=t0 + 0.5, monotonic_s=0.5, kind="diagnosis",
                        text="cell_overvoltage_rsl set at module 1 cell 3",
                        entry="cell_overvoltage_rsl", change="set", severity="warning",
                        module=1, element=3, id=7)
    out.append((f"{prefix}/{pack}/events", event_payload(event)))
    return out
