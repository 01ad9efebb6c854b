"""`python -m bench [NAME ...]`: run the benchmarks (all by default)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bms import compiled

compiled.use_build()  # before the benchmarks import the hot modules

from bench import (  # noqa: E402
    estimation,
    fleet,
    footprint,
    historian,
    lockstep_hash,
    logs,
    mqtt,
    pack_bus,
    reaction,
    site,
    soak,
    startup,
    web,
)

BENCHMARKS = {"pack-bus": pack_bus.run, "reaction": reaction.run, "logs": logs.run,
              "footprint": footprint.run, "estimation": estimation.run, "mqtt": mqtt.run,
              "startup": startup.run, "soak": soak.run, "lockstep-hash": lockstep_hash.run,
              "fleet": fleet.run, "historian": historian.run,
              "web": web.run, "site": site.run}
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench", description="Run the benchmarks; figures go to stdout and bench/results/.")
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="length of each real-time run (default 20)")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    print(f"code: {compiled.current_status()}", flush=True)  # compiled or plain Python, and why
    ok = True
    for name in args.names or list(BENCHMARKS):
        print(f"\n=== {name} ===", flush=True)
        result = asyncio.run(BENCHMARKS[name](args.seconds))
        result["code"] = compiled.current_status()
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, sort_keys=True))
        ok &= bool(result.get("targets_met", True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
