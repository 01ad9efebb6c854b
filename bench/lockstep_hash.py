"""`./run bench lockstep-hash`: the SHA-256 of every frame of fixed lockstep runs (120 s of
the default 8 x 16 pack, 20 s of 32 x 16), each frame's time, bus, sender, id and bytes.

A change that should not change behaviour (a refactoring, a faster path, the compiled
build) must leave these hashes as they were: run it on both trees (or both builds) and
compare. Plain and compiled agree when the run prints the same hashes under
BMS_PURE_PYTHON=1 and without it.
"""

from __future__ import annotations

import hashlib
import struct
import time
from typing import Any

from bms.settings import load_settings
from sim.lockstep import LockstepPack

RUNS = (("8x16", ["pack.modules=8"], 120.0), ("32x16", ["pack.modules=32"], 20.0))


def frames_hash(overrides: list[str], seconds: float) -> tuple[str, int]:
    """The hash of every frame of a lockstep run, and how many frames it had."""
    digest, count = hashlib.sha256(), 0
    pack = LockstepPack(load_settings(None, overrides))
    for wire in pack.run(seconds):
        frame = wire.frame
        digest.update(struct.pack("<dI?", round(wire.time_s, 9), frame.arbitration_id,
                                  frame.is_extended_id))
        digest.update(f"{wire.bus}/{wire.node}".encode())
        digest.update(bytes([len(frame.data)]) + bytes(frame.data))
        count += 1
    return digest.hexdigest(), count


async def run(seconds: float = 0.0) -> dict[str, Any]:
    from bms import compiled

    result: dict[str, Any] = {"code": compiled.current_status()}
    for name, overrides, run_s in RUNS:
        started = time.perf_counter()
        digest, count = frames_hash(overrides, run_s)
        result[name] = {"seconds": run_s, "frames": count, "sha256": digest,
                        "wall_s": round(time.perf_counter() - started, 2)}
        print(f"{name}: {run_s:.0f} s, {count} frames, sha256 {digest} "
              f"({result[name]['wall_s']} s)", flush=True)
    result["targets_met"] = True
    return result
