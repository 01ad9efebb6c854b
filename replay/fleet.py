"""`bms fleet resim`: `bms log resim` over many logs at once on Dask (dask.distributed).

One task per log: a worker reads the log, feeds it to a fresh `MasterCore` with the
configuration given (`replay.resim.resimulate`) and, with ``compare``, looks for the first
decision where it differs from the log's own master (`replay.resim.compare`). The results
come back as they finish (a progress callback per log) and are gathered in the order the
logs were given. A log that cannot be read or re-simulated, or a worker that dies on it, is a
result with its error: never fatal for the others.

Without a scheduler address the logs run on a local cluster on this machine (one process per
worker, one thread each: the re-simulation is pure Python and holds the GIL), listening on
127.0.0.1 only. With one (``tcp://HOST:PORT``) they run on that cluster's workers, which
need the project installed and the logs at the same paths (shared or object storage:
docs/fleet.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class LogResult:
    log: str
    frames: int = 0
    decisions: int = 0
    trips: int = 0  # times the re-simulated master went to ERROR
    divergence: str | None = None  # the first divergence (compare), else None
    divergence_s: float | None = None
    compared: int = 0  # decisions that matched before it (compare)
    seconds: float = 0.0  # the worker's time on this log
    error: str | None = None  # why the log gave no result
    code: str = ""  # compiled or plain Python, in the worker that ran it

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def resim_log(path: str, config: str | None, overrides: Sequence[str], compare: bool = False,
              tolerance_s: float = 0.3, from_s: float = 0.0) -> LogResult:
    """One log, as `bms log resim --config CONFIG --set OVERRIDE... [--compare]` does it,
    in a worker: the compiled build switched on first, as the `bms` command does (nothing of
    the project is imported before: the task carries the configuration as a path and
    overrides, not as settings). An error is returned, not raised."""
    from bms import compiled

    compiled.use_build()
    from bms.settings import load_settings
    from replay.logfile import read_log
    from replay.resim import compare as compare_decisions
    from replay.resim import resimulate

    started = time.perf_counter()
    try:
        settings = load_settings(Path(config) if config else None, list(overrides))
        result = resimulate(read_log(Path(path)), settings)
    except Exception as exc:  # any log a worker cannot take is reported, not fatal
        return LogResult(path, seconds=time.perf_counter() - started,
                         error=f"{type(exc).__name__}: {exc}", code=compiled.current_status())
    trips = sum(1 for d in result.timeline if d.kind == "state" and "-> ERROR" in d.text)
    divergence, matched = None, 0
    if compare and result.recorded:
        divergence, matched = compare_decisions(result.recorded, result.on_bus, tolerance_s,
                                                from_s)
    return LogResult(
        path, frames=result.frames, decisions=len(result.timeline), trips=trips,
        divergence=divergence.describe() if divergence else None,
        divergence_s=divergence.time_s if divergence else None, compared=matched,
        seconds=time.perf_counter() - started,
        error="--compare: the log holds no frame of the master to compare with"
        if compare and not result.recorded else None, code=compiled.current_status())


def local_cluster(workers: int) -> Any:
    """A Dask cluster on this machine: ``workers`` processes of one thread, on 127.0.0.1."""
    import dask.distributed

    dd: Any = dask.distributed  # partly typed: called through Any
    return dd.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host=LOCAL_HOST, scheduler_port=0, dashboard_address=None,
                           silence_logs=logging.ERROR)


def connect(cluster_or_address: Any) -> Any:
    """A Dask client of a cluster object or a scheduler's address."""
    import dask.distributed

    dd: Any = dask.distributed
    return dd.Client(cluster_or_address)


def run_fleet(paths: Sequence[str], config: str | None, overrides: Sequence[str] = (), *,
              compare: bool = False, tolerance_s: float = 0.3, from_s: float = 0.0,
              workers: int = 2, scheduler: str | None = None, client: Any = None,
              on_result: Callable[[LogResult], None] | None = None) -> list[LogResult]:
    """Every log once, one task each: on ``client``'s cluster, else on the cluster at
    ``scheduler``, else on a local cluster of ``workers`` processes made for the run; the
    results in the order of ``paths``."""
    import dask.distributed

    dd: Any = dask.distributed  # partly typed: called through Any
    cluster = None
    own_client = client is None
    if own_client:
        cluster = local_cluster(workers) if scheduler is None else None
        client = connect(cluster if cluster is not None else scheduler)
    try:
        futures = client.map(resim_log, list(paths), config=config, overrides=list(overrides),
                             compare=compare, tolerance_s=tolerance_s, from_s=from_s,
                             pure=False)
        which = {future.key: path for future, path in zip(futures, paths, strict=True)}
        results: dict[Any, LogResult] = {}
        for future in dd.as_completed(futures):
            path = which[future.key]
            try:
                result = future.result()
            except Exception as exc:  # the worker died on it, or the task was lost
                result = LogResult(path, error=f"{type(exc).__name__}: {exc}")
            results[future.key] = result
            if on_result is not None:
                on_result(result)
        return [results[future.key] for future in futures]
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()


@dataclass(frozen=True)
class Summary:
    logs: int
    failed: int
    diverged: int
    trips: int
    frames: int
    worker_s: float  # the workers' time, summed
    wall_s: float

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


def summarise(results: Sequence[LogResult], wall_s: float) -> Summary:
    return Summary(len(results), sum(not r.ok for r in results),
                   sum(r.divergence is not None for r in results), sum(r.trips for r in results),
                   sum(r.frames for r in results), sum(r.seconds for r in results), wall_s)
