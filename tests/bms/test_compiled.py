"""The compiled build: served only while it matches the sources, and it computes what plain
Python computes (a log re-simulated, a scenario run), byte for byte."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bms import compiled, compiled_build
from bms.settings import load_settings
from tests.replay.logs import lockstep_log
from tests.replay.test_resim import SETTINGS, drift
from tests.sim.test_scenario_cli import SCENARIO


def project(root: Path) -> Path:
    (root / "bms").mkdir(parents=True)
    (root / "bms" / "core.py").write_text("LIMIT_MV = 4200\n")
    return root


def stamp(build: Path, root: Path, files: dict[str, str]) -> None:
    build.mkdir(parents=True, exist_ok=True)
    stamped = {"digest": compiled.source_digest(root), "files": files}
    (build / compiled.STAMP).write_text(json.dumps(stamped))


def test_a_build_is_served_only_while_it_matches_the_sources(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(compiled.PURE_ENV, raising=False)
    root, build = project(tmp_path / "src"), tmp_path / "build"
    files, why = compiled.servable(build, root)
    assert files is None
    assert "no compiled build" in why
    stamp(build, root, {"bms.core": "bms/core.so", "abc__mypyc": "abc__mypyc.so"})
    files, why = compiled.servable(build, root)
    assert files == {"bms.core": "bms/core.so", "abc__mypyc": "abc__mypyc.so"}
    assert why.startswith("compiled (1 modules")
    monkeypatch.setenv(compiled.PURE_ENV, "1")
    assert compiled.servable(build, root) == (None, f"plain Python ({compiled.PURE_ENV} is set)")
    monkeypatch.setenv(compiled.PURE_ENV, "0")
    assert compiled.servable(build, root)[0] is not None
    (root / "bms" / "core.py").write_text("LIMIT_MV = 4250\n")  # an edit after the build
    files, why = compiled.servable(build, root)
    assert files is None
    assert "older than the sources" in why
    assert not compiled.is_fresh(build, root)


def test_an_edited_dbc_file_makes_the_build_stale(tmp_path: Path) -> None:
    root = project(tmp_path / "src")
    (root / "dbc").mkdir()
    (root / "dbc" / "pack.dbc").write_text('VERSION "1"\n')
    before = compiled.source_digest(root)
    (root / "dbc" / "pack.dbc").write_text('VERSION "2"\n')  # the codecs' functions change
    assert compiled.source_digest(root) != before


def test_the_finder_serves_the_modules_of_the_build_and_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "served_stand_in.py").write_text("FROM_BUILD = True\n")  # for an extension
    finder = compiled.BuildFinder(tmp_path, tmp_path)
    finder.files = {"bms_served_for_test": "served_stand_in.py"}  # as checked and fresh
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "bms_served_for_test", raising=False)
    module = importlib.import_module("bms_served_for_test")
    assert module.FROM_BUILD is True
    assert module.__file__ == str(tmp_path / "served_stand_in.py")
    assert finder.find_spec("master.core") is None
    monkeypatch.delitem(sys.modules, "bms_served_for_test")


def test_the_sources_are_read_only_at_the_first_import_the_build_may_serve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(compiled.PURE_ENV, raising=False)
    root, build = project(tmp_path / "src"), tmp_path / "build"
    stamp(build, root, {"dbc.codec.frames_codec": "dbc/codec/frames_codec.so"})
    digests: list[Path] = []
    real_digest = compiled.source_digest
    monkeypatch.setattr(compiled, "source_digest",
                        lambda r=root: digests.append(r) or real_digest(r))
    finder = compiled.BuildFinder(build, root)
    assert finder.find_spec("json") is None  # not a module of the build: nothing read
    assert finder.find_spec("slave.service") is None
    assert digests == []
    assert finder.files is None
    assert finder.find_spec("dbc.codec.frames_codec") is not None  # checked, fresh, served
    assert finder.find_spec("dbc.codec.direct") is None  # checked once: not in this build
    assert digests == [root]
    assert finder.check().startswith("compiled (1 modules")


def test_a_failed_build_says_where_its_output_is(tmp_path: Path) -> None:
    root = project(tmp_path / "src")  # none of the modules to compile is there
    with pytest.raises(compiled_build.CompileError, match=r"compiled\.log"):
        compiled_build.build(tmp_path / "build" / "compiled", root)
    assert not (tmp_path / "build" / "compiled").exists()


# --- the real build (made by ./run) against plain Python -------------------------------------

needs_build = pytest.mark.skipif(
    not compiled.is_fresh(), reason="no compiled build matching the sources: `./run test` makes "
                                    "it (or `bms compiled build`)")


def bms(*args: str, pure: bool, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    if pure:
        env[compiled.PURE_ENV] = "1"
    return subprocess.run([sys.executable, "-m", "bms", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@needs_build
def test_the_build_is_served_to_a_new_process() -> None:
    assert bms("compiled", "status", pure=False).stdout.startswith("compiled (")
    assert bms("compiled", "status", pure=True).stdout.startswith("plain Python")
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    switched_on = "from bms.compiled import use_build; use_build(); "
    code = "import master.core as m; print(m.__file__)"
    used = subprocess.run([sys.executable, "-c", switched_on + code], capture_output=True,
                          text=True, env=env, check=True).stdout.strip()
    assert used.startswith(str(compiled.BUILD_DIR))
    # importing a package switches nothing on: only the entry points do
    imported = subprocess.run([sys.executable, "-c", "import bms; " + code], capture_output=True,
                              text=True, env=env, check=True).stdout.strip()
    assert not imported.startswith(str(compiled.BUILD_DIR))


@needs_build
def test_the_codecs_take_the_functions_written_from_the_dbc_from_the_build() -> None:
    code = ("from bms.compiled import use_build; use_build(); "
            "from dbc.codec import pack_codec; c = pack_codec(); "
            "print(type(c._direct['CellVoltages']).__name__, "
            "type(c._direct_encoders['CellTemperatures']).__name__)")
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    used = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True).stdout.split()
    assert used == ["builtin_function_or_method"] * 2  # compiled, not exec'd text


@needs_build
def test_the_build_resimulates_a_log_as_plain_python_does(tmp_path: Path) -> None:
    path = tmp_path / "drift.log"
    lockstep_log(path, load_settings(None, SETTINGS), seconds=9.0, script=drift)
    args = ("log", "resim", str(path), "--compare", *(a for s in SETTINGS for a in ("--set", s)))
    plain, fast = bms(*args, pure=True), bms(*args, pure=False)
    assert plain.returncode == 0, plain.stderr
    assert "cell_overvoltage_msl set" in plain.stdout
    assert (fast.returncode, fast.stdout) == (plain.returncode, plain.stdout)


@needs_build
def test_the_build_runs_a_scenario_as_plain_python_does(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(SCENARIO)
    outputs = []
    for pure in (True, False):
        out = tmp_path / ("plain" if pure else "fast")
        result = bms("sim", "run", str(tmp_path / "s.toml"), "--out", str(out), pure=pure)
        assert result.returncode == 0, result.stderr
        outputs.append([(out / name).read_bytes() for name in ("timeseries.csv", "journal.txt")])
    assert b"PRECHARGE -> NORMAL" in outputs[0][1]
    assert outputs[0] == outputs[1]


# imported by the core to set it up, never called per frame or per tick
CONSTRUCTION_ONLY = {"master.diagnosis.limits"}


def test_what_the_core_calls_per_frame_in_diagnosis_is_compiled() -> None:
    """The supervision was once plain Python under a compiled core: every frame's
    observations became generic calls into the interpreter (8 % more instructions)."""
    from tests.test_architecture import imports

    sources = imports()
    seen: set[str] = set()
    todo = ["master/core.py"]
    while todo:
        for name in sources[todo.pop()]:
            path = name.replace(".", "/") + ".py"
            if name.startswith("master.diagnosis.") and path in sources and name not in seen:
                seen.add(name)
                todo.append(path)
    assert "master.diagnosis.supervision" in seen
    plain = seen - CONSTRUCTION_ONLY - compiled.CANDIDATES
    assert not plain, f"imported by the compiled core, yet plain Python: {sorted(plain)}"
