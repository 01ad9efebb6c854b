"""`bms compiled build`: compile `COMPILED` (bms/compiled.py) with mypyc into the build
folder that the import hook serves. A tool of the development machine: the running processes
import only the hook (`bms.compiled`), never this module nor mypyc.
"""

from __future__ import annotations

import fcntl
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bms.compiled import BUILD_DIR, COMPILED, ROOT, STAMP, module_of, source_digest


class CompileError(RuntimeError):
    """The build failed; the plain Python modules are used."""


@contextmanager
def build_lock(directory: Path = BUILD_DIR) -> Iterator[None]:
    """One build at a time (two ./run commands may start together)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with (directory.parent / "compiled.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(directory: Path = BUILD_DIR, root: Path = ROOT) -> None:
    """Compile `COMPILED` with mypyc into ``directory`` (replaced whole, once complete)."""
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as exc:
        raise CompileError(f"mypyc or setuptools is missing ({exc}): pip install -e '.[dev]'"
                           ) from exc
    digest = source_digest(root)
    work = Path(tempfile.mkdtemp(prefix="bms-compile-"))
    here = Path.cwd()
    log = directory.parent / "compiled.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        generated = _write_generated(work / "generated")
        try:
            os.chdir(root)  # mypyc names the modules after their paths from here
            with _output_to(log):
                extensions = mypycify([*COMPILED, str(generated)], opt_level="3",
                                      target_dir=str(work / "c"))
                setup(name="bms-compiled", ext_modules=extensions, script_args=[
                    "build_ext", "--build-lib", str(work / "lib"),
                    "--build-temp", str(work / "t")])
        except (SystemExit, Exception) as exc:  # mypyc exits on a type error
            raise CompileError(f"mypyc could not build the hot modules ({exc!r}; its "
                               f"output: {log})") from exc
        finally:
            os.chdir(here)
        lib = work / "lib"
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        files = {path.relative_to(lib).as_posix()[:-len(suffix)].replace("/", "."):
                 path.relative_to(lib).as_posix() for path in lib.rglob("*" + suffix)}
        missing = [p for p in COMPILED if module_of(p) not in files]
        if missing:
            raise CompileError(f"the build lacks {', '.join(missing)} (see {log})")
        (lib / STAMP).write_text(json.dumps({"digest": digest, "files": files}, indent=1))
        shutil.rmtree(directory, ignore_errors=True)
        shutil.move(str(lib), str(directory))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_generated(directory: Path) -> Path:
    """The module of the functions the codecs write from the DBC files (dbc/codec/arrays.py),
    for mypyc: the codecs of every bus are made first, so that it holds them all."""
    from dbc.codec import arrays, pack_codec, sim_codec, vehicle_codec

    pack_codec(), vehicle_codec(), sim_codec()
    directory.mkdir(parents=True)
    path = directory / f"{arrays.COMPILED_MODULE}.py"
    path.write_text(arrays.module_source())
    return path


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """This process's and its children's stdout and stderr (the C compiler's) into ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
