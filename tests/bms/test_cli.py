"""The `bms` command line: help, configuration checks, refusals that name the key."""

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bms import compiled
from bms.cli import SUBCOMMAND_MODULES, build_parser, main
from bms.settings import load_settings


@pytest.mark.parametrize("command", [[], ["pack"], ["master"], ["slave"], ["sim"],
                                     ["sim", "hv-box"], ["sim", "vcu"], ["config"], ["inject"],
                                     ["inject", "slave"], ["inject", "vcu"], ["fleet"],
                                     ["fleet", "resim"], ["historian"]])
def test_every_command_explains_itself(command: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: bms" in text
    if command:
        assert "--config" in text or "PEER" in text or "KIND" in text or "--broker" in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["master", "--check-config"], "master of 8 modules"),
        (["slave", "--module", "7", "--check-config"], "slave 7, 16 cells, AFE sim"),
        (["sim", "hv-box", "--check-config"], "HV box with IVT-S sensor"),
        (["sim", "vcu", "--check-config"], "VCU requesting drive"),
        (["inject", "slave", "--module", "1", "stop", "--check-config"],
         "would send InjectSlave(module=1, action=<SlaveFault.STOP: 1>"),
        (["inject", "cell-voltage", "--module", "0", "--cell", "3", "--mv", "4300",
          "--duration", "2", "--check-config"], "quantity=<CellQuantity.VOLTAGE: 0>, value=4300.0"),
        (["inject", "contactor", "main-plus", "welded", "--check-config"],
         "fault=<ContactorFault.WELDED: 1>"),
        (["inject", "vcu", "--request", "standby", "--reset", "--check-config"],
         "request=<VcuCommandRequest.STANDBY: 1>, reset_faults=True"),
        (["pack", "--check-config", "--set", "pack.modules=3"], "virtual pack of 3 x 16"),
    ],
)
def test_check_config(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["master", "--set", "pack.modules=40"], "pack.modules: must be <= 32"),
        (["slave", "--module", "8"], "--module 8: must be 0..7"),
        (["slave", "--module", "0", "--set", "slave.afe=ltc9999"], "slave.afe: unknown AFE"),
        (["pack", "--config", "/nonexistent.toml"], "no such configuration file"),
        (["pack", "--duration", "-1"], "--duration: must be positive"),
        (["config", "--set", "bus.pack.hop_limit=2"], "bus.pack.hop_limit: must be 0"),
        (["inject", "slave", "--module", "9", "stop"], "--module 9: must be 0..7"),
        (["master", "--set", "diagnosis.cell_overvoltag_msl.debounce_set=2"],
         "diagnosis.cell_overvoltag_msl: unknown diagnosis entry"),
        (["master", "--set", "limits.cell_overvoltage_mv=[4300, 4200, 4250]"],
         "limits.cell_overvoltage_mv: operating, recommended, maximum must increase"),
    ],
)
def test_refusals_exit_2_and_name_the_key(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_config_output_is_a_complete_config_file(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--set", "pack.modules=5", "--set", "pack.chemistry=LFP"]) == 0
    path = tmp_path / "printed.toml"
    path.write_text(capsys.readouterr().out)
    tomllib.loads(path.read_text())
    assert load_settings(path) == load_settings(None, ["pack.modules=5", "pack.chemistry=LFP"])


def test_python_dash_m_bms_is_the_command() -> None:
    done = subprocess.run([sys.executable, "-m", "bms", "config", "--set", "pack.modules=x1"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "pack.modules: expected an integer" in done.stderr


def lean_facts(command: str) -> list[str]:
    """In a fresh process after `bms COMMAND --help`: whether OpenSSL is in once the event
    loop's modules are (asyncio takes it when it can), and where the slave's core comes from."""
    code = (f"import sys\nfrom bms.cli import main\nsys.argv = ['bms', {command!r}, '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "import asyncio.sslproto\nimport slave.core\n"
            "print(sys.modules.get('ssl') is not None, slave.core.__file__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return result.stdout.splitlines()[-1].split()


def test_a_slave_process_keeps_to_its_memory_budget() -> None:
    openssl, core = lean_facts("slave")
    assert openssl == "False"
    assert core.endswith(".py")  # plain, even where the compiled build is served


def test_other_commands_keep_openssl_and_the_compiled_build() -> None:
    openssl, core = lean_facts("master")
    assert openssl == "True"
    if compiled.current_status().startswith("compiled"):  # this process is served it: so is theirs
        assert not core.endswith(".py"), core


def test_each_listed_module_defines_its_command() -> None:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(subparsers.choices) == sorted(SUBCOMMAND_MODULES)
    for command in SUBCOMMAND_MODULES:
        (alone,) = [a for a in build_parser(command)._actions
                    if isinstance(a, argparse._SubParsersAction)]
        assert list(alone.choices) == [command]


def test_a_node_imports_no_other_command() -> None:
    """`bms slave` starts without the master's, the log tools' or another command's modules."""
    code = ("import sys; sys.argv = ['bms', 'slave', '--module', '0', '--check-config']; "
            "from bms.cli import main; main(); import json; print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True, timeout=60).stdout.strip().splitlines()[-1])
    assert "slave.cli" in loaded
    assert [m for m in loaded if m.split(".")[0] in ("master", "replay")] == []
    assert [m for m in loaded if m in SUBCOMMAND_MODULES.values() and m != "slave.cli"] == []
