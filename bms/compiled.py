"""The import hook that serves the optional compiled build of the hot path.

The modules in `COMPILED` stay plain Python and the only source of truth. `./run` compiles
them with mypyc into ``build/compiled/`` (``bms compiled build``, `bms.compiled_build`). The
entry points (the `bms` command, the bench, the test suite) call `use_build` before any hot
module is imported, so that the compiled modules are served in place of their sources;
importing a package switches nothing on. Served only when the build was made from exactly
the sources present (a digest of every source file of the project and of the interpreter):
after any edit, and where no build exists (an install without ``./run``, a machine without
a C compiler), everything is plain Python. ``BMS_PURE_PYTHON=1`` forces plain Python. The
build is all or nothing: compiled modules import each other natively, so a stale one cannot
be mixed with fresh ones.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

from dbc import GENERATED_CODECS_MODULE

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "compiled"
STAMP = "stamp.json"
PACKAGES = ("bms", "dbc", "master", "replay", "sim", "slave")
PURE_ENV = "BMS_PURE_PYTHON"
SOURCES = (".py", ".dbc")
# the master's core with what it calls per frame and per tick, and the log reader: what
# `bms log resim` spends its time in (numpy-bound estimation gains little and stays out);
# the slave's core, its simulated AFE and the plant: what the lockstep harness runs. Not the
# settings (read by introspection) nor the frame classes (ClassVar-based dataclasses).
COMPILED = (
    "bms/chemistry.py", "bms/rounding.py", "bms/timing.py",
    "dbc/codec/fast_decode.py", "dbc/codec/fast_encode.py", "dbc/codec/frames_codec.py",
    "dbc/codec/layout.py", "dbc/crc.py", "dbc/e2e.py", "dbc/endpoint.py",
    "master/algorithms.py", "master/balancing_planner.py", "master/charger_control.py",
    "master/core.py", "master/endpoints.py", "master/events.py", "master/inverter_endpoint.py",
    "master/inverter_byd_hvs.py", "master/inverter_can_bms.py", "master/inverter_pylon_hv.py",
    "master/thermal.py", "master/diagnosis/checks.py", "master/diagnosis/current_response.py",
    "master/diagnosis/e2e_window.py", "master/diagnosis/engine.py",
    "master/diagnosis/flipping_readings.py", "master/diagnosis/frozen_readings.py",
    "master/diagnosis/supervision.py", "master/diagnosis/table.py", "master/pack_state.py",
    "master/slave_registry.py", "master/state_machine.py", "master/status_frames.py",
    "replay/candump.py", "replay/logfile.py", "replay/resim.py",
    "sim/cell.py", "sim/charger.py", "sim/current_sensor.py", "sim/hv_box.py",
    "sim/inverter.py", "sim/inverter_byd_hvs.py", "sim/inverter_pylon_hv.py", "sim/inverters.py",
    "sim/lockstep.py", "sim/module_plant.py", "sim/noise.py",
    "sim/slave_faults.py", "sim/vcu.py",
    "slave/afe/sim.py", "slave/balancing.py", "slave/core.py",
)
GENERATED_MODULE = GENERATED_CODECS_MODULE  # the codecs' functions written from the DBC files
CANDIDATES = frozenset({path.removesuffix(".py").replace("/", ".") for path in COMPILED}
                       | {GENERATED_MODULE})

# what the build's finder found (`current_status`): "compiled (N modules)" or "plain Python
# (why)"
status = "plain Python (use_build not called)"


def source_digest(root: Path = ROOT) -> str:
    """Every source file of the project's packages and the interpreter it was built for."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    digest.update(repr(COMPILED).encode())
    for package in PACKAGES:  # the DBC files too: the build writes functions from them
        for path in sorted(p for p in (root / package).rglob("*") if p.suffix in SOURCES):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class BuildFinder(importlib.abc.MetaPathFinder):
    """Serves the modules of a build (module name -> file in ``directory``), nothing else.

    Whether the build matches the sources is found out at the first import of a module the
    build may hold, not before: a process that serves the plain modules anyway (`bms slave`,
    see `serve_plain`) never reads the sources for their digest."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.directory = directory
        self.root = root
        self.files: dict[str, str] | None = None  # None: not checked yet

    def check(self) -> str:
        global status
        if self.files is None:
            files, status = servable(self.directory, self.root)
            self.files = files or {}
        return status

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if self.files is None:
            if fullname not in CANDIDATES:
                return None
            self.check()
        assert self.files is not None
        file = self.files.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, self.directory / file)


def read_stamp(directory: Path) -> dict[str, object] | None:
    try:
        stamp = json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def servable(directory: Path, root: Path) -> tuple[dict[str, str] | None, str]:
    """The build's files (module name -> file) when it may be served, else None; and the
    status that says which and why."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None, f"plain Python ({PURE_ENV} is set)"
    stamp = read_stamp(directory)
    if stamp is None:
        return None, f"plain Python (no compiled build in {directory})"
    if stamp.get("digest") != source_digest(root):
        return None, "plain Python (the compiled build is older than the sources: ./run " \
                     "rebuilds it)"
    files = stamp.get("files")
    if not isinstance(files, dict):
        return None, f"plain Python (unreadable {directory / STAMP})"
    modules = sum(1 for name in files if not name.endswith("__mypyc"))  # and their runtime
    return files, f"compiled ({modules} modules from {directory})"


def use_build(directory: Path = BUILD_DIR, root: Path = ROOT) -> None:
    """Serve the build in ``directory`` where it matches the sources under ``root`` (checked
    at the first import it may serve; `current_status` says what is used and why). Does
    nothing when a build is served already."""
    if not any(isinstance(finder, BuildFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, BuildFinder(directory, root))


def current_status() -> str:
    """"compiled (N modules ...)" or "plain Python (why)": what this process uses."""
    for finder in sys.meta_path:
        if isinstance(finder, BuildFinder):
            return finder.check()
    return status


def module_of(path: str) -> str:
    """The module a source path of `COMPILED` names: "dbc/codec/frames_codec.py" -> "dbc.codec"."""
    return path.removesuffix(".py").replace("/", ".")


def serve_plain(reason: str) -> str:
    """Serve the plain modules from here on, unless a compiled one is in already; returns
    `status`."""
    global status
    if not {module_of(path) for path in COMPILED} & sys.modules.keys():
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, BuildFinder)]
        status = f"plain Python ({reason})"
    return status


def is_fresh(directory: Path = BUILD_DIR, root: Path = ROOT) -> bool:
    stamp = read_stamp(directory)
    return stamp is not None and stamp.get("digest") == source_digest(root)
