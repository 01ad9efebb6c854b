"""The import rules of docs/architecture.md, held to the sources: every import of every
module of the project, those inside functions included (AST, not a run)."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bms", "dbc", "master", "slave", "sim", "replay", "cells", "historian", "web",
            "sunspec", "sitectl", "bench", "testbed", "tests")


@cache
def imports() -> dict[str, set[str]]:
    """Source path (relative) -> the project modules it imports."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            names: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)  # and what may be a module of it
                    names |= {f"{node.module}.{alias.name}" for alias in node.names}
            found[str(path.relative_to(REPO))] = {
                n for n in names if n.split(".")[0] in PACKAGES}
    return found


def importers(of: str, within: str | None = None) -> list[str]:
    """The sources (in package ``within``, else all) that import package ``of``."""
    return sorted(path for path, names in imports().items()
                  if (within is None or path.startswith(within + "/"))
                  and any(n.split(".")[0] == of for n in names))


def test_the_rules_see_imports_inside_functions() -> None:
    # the registry builds its backends lazily: an import inside a function
    assert "slave.afe.ltc681x" in imports()["slave/afe/registry.py"]


def test_master_and_slave_never_import_each_other() -> None:
    assert importers("slave", within="master") == []
    assert importers("master", within="slave") == []


def test_the_contract_imports_nothing_else_of_the_project() -> None:
    others = {path: sorted(n for n in names if n.split(".")[0] != "dbc")
              for path, names in imports().items() if path.startswith("dbc/")}
    assert {path: names for path, names in others.items() if names} == {}


def test_only_a_virtual_slave_imports_the_simulator() -> None:
    # the simulated AFE; the shell wraps a simulated AFE in the fault injection, lazily
    assert importers("sim", within="slave") == ["slave/afe/sim.py", "slave/service.py"]
    # the production core knows nothing of fault injection
    assert [n for n in imports()["slave/core.py"] if n.startswith(("sim", "dbc.sim"))] == []


def test_a_slave_with_a_real_afe_loads_no_simulation_code() -> None:
    code = ("import sys, slave.service, slave.cli, slave.afe.registry, slave.afe.ltc681x; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sim' "
            "or m == 'slave.afe.sim'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPO).stdout.strip()
    assert loaded == "[]"


def test_nothing_imports_the_tests() -> None:
    outside = [path for path in importers("tests") if not path.startswith("tests/")]
    assert outside == []


CORE_NAMES = {"core", "self.core", "master", "self.master", "pack.master", "self.pack.master",
              "p.master"}
READERS = ("sim", "replay", "bench", "testbed", "master/telemetry", "web", "historian",
           "sunspec")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def reads_in(source: str) -> list[tuple[int, str]]:
    """Reads of a MasterCore's private attributes, or through one of its attributes into
    its parts (``core.algorithms.estimate``): (line, what)."""
    tree = ast.parse(source)
    values = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return sorted((node.lineno, f"{_dotted(node.value)}.{node.attr}")
                  for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and _dotted(node.value) in CORE_NAMES
                  and (node.attr.startswith("_") or id(node) in values))


def test_readers_read_the_report_not_the_cores_internals() -> None:
    found = [f"{path.relative_to(REPO)}:{line} {what}"
             for package in READERS for path in sorted((REPO / package).rglob("*.py"))
             for line, what in reads_in(path.read_text())]
    assert found == []


def test_the_internals_rule_sees_private_and_nested_reads() -> None:
    source = ("a = core.algorithms.estimate\nb = core._summary\nc = core.report(0.0).state\n"
              "d = self.pack.master.engine.active()\ne = core.tick(1.0)\n")
    assert reads_in(source) == [(1, "core.algorithms"), (2, "core._summary"),
                                (4, "self.pack.master.engine")]


def test_the_independent_listener_uses_none_of_the_masters_classes() -> None:
    assert sorted(n for n in imports()["sim/observer.py"] if n.split(".")[0] == "master") == []


def observations_in(source: str) -> list[tuple[int, str]]:
    """Calls that tell a diagnosis engine what was observed: (line, call)."""
    return sorted((node.lineno, f"{_dotted(node.func.value)}.{node.func.attr}")
                  for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("observe", "observe_limit")
                  and (_dotted(node.func.value) or "").split(".")[-1] == "engine")


def test_every_diagnosis_rule_lives_under_master_diagnosis() -> None:
    found = [f"{path.relative_to(REPO)}:{line} {call}"
             for package in ("bms", "dbc", "master", "slave", "sim", "replay")
             for path in sorted((REPO / package).rglob("*.py"))
             if not str(path.relative_to(REPO)).startswith("master/diagnosis/")
             for line, call in observations_in(path.read_text())]
    assert found == []


def test_the_diagnosis_rule_sees_observations() -> None:
    source = ("self.engine.observe(D.X, PACK, True, now)\ncore.engine.observe_limit(1)\n"
              "observer.observe(bus, frame, t)\n")
    assert observations_in(source) == [(1, "self.engine.observe"),
                                       (2, "core.engine.observe_limit")]


def test_only_the_build_command_imports_the_build_tool() -> None:
    # the running processes import the hook (bms.compiled), never the build and mypyc
    users = [path for path, names in imports().items()
             if "bms.compiled_build" in names and not path.startswith("tests/")]
    assert users == ["bms/compiled_cli.py"]


def test_the_shared_layer_imports_only_the_contract() -> None:
    # bms (settings, the CAN port, the command) sits under master, slave and sim; the bms
    # command reaches their commands by name (bms/cli.py), never by import; it reads cell
    # files (cells imports nothing)
    others = {path: sorted(n for n in names if n.split(".")[0] not in ("bms", "dbc", "cells"))
              for path, names in imports().items() if path.startswith("bms/")}
    assert {path: names for path, names in others.items() if names} == {}


def test_the_dashboard_reads_only_the_published_telemetry() -> None:
    # what the master publishes (its payloads, its commands' check), never its core
    masters = sorted({n for path, names in imports().items() if path.startswith("web/")
                      for n in names if n.split(".")[0] == "master"})
    assert all(n.startswith("master.telemetry.") for n in masters), masters


def test_the_sunspec_server_reads_only_the_published_telemetry() -> None:
    # the payloads, the commands, and the limits a configuration gives (a pure function)
    masters = sorted({n for path, names in imports().items() if path.startswith("sunspec/")
                      for n in names if n.split(".")[0] == "master"})
    assert all(n.startswith(("master.telemetry.", "master.diagnosis.limits"))
               for n in masters), masters


def test_the_testbed_imports_no_benchmark() -> None:
    assert importers("bench", within="testbed") == []


def test_the_cell_models_import_nothing_else_of_the_project() -> None:
    # the estimator, the limits and the plant read cell files through bms.chemistry; the
    # script that regenerates the data (imported by nothing) asks the pack for its limits
    others = {path: sorted(n for n in names if n.split(".")[0] != "cells")
              for path, names in imports().items()
              if path.startswith("cells/") and path != "cells/make_data.py"}
    assert {path: names for path, names in others.items() if names} == {}


def test_the_site_controller_reads_what_the_masters_publish_never_a_core() -> None:
    reached = {n for path, names in imports().items() if path.startswith("sitectl/")
               for n in names if n.split(".")[0] == "master"}
    assert not {n for n in reached if n.startswith(("master.core", "master.service",
                                                    "master.algorithms", "master.estimation"))}
    assert reached  # it does use the telemetry and the inverter protocols
