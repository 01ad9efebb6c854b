"""The `bms` command line: help, configuration checks, refusals that name the key."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bms.cli import main
from bms.settings import load_settings


@pytest.mark.parametrize("command", [[], ["pack"], ["master"], ["slave"], ["sim"],
                                     ["sim", "current-sensor"], ["config"]])
def test_every_command_explains_itself(command: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: bms" in text
    if command:
        assert "--config" in text or "PEER" in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["master", "--check-config"], "master of 8 modules"),
        (["slave", "--module", "7", "--check-config"], "slave 7, 16 cells, AFE sim"),
        (["sim", "current-sensor", "--check-config"], "current sensor, profile of 4 steps"),
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
