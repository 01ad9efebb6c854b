"""deploy/sbc: the systemd units, the CAN bring-up script and the example real pack, checked
on a machine without systemd running, without CAN hardware and without root."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SBC = REPO / "deploy" / "sbc"
EXAMPLE = REPO / "deploy" / "packs" / "sbc-8x16-ltc6813.toml"
INSTALLED_BMS = "/opt/bms/venv/bin/bms"
INSTALLED_REPO = "/opt/bms/"
INSTALLED_CONFIG = "/etc/bms/pack.toml"
UNITS = ("bms-slave@.service", "bms-master.service", "can@.service")


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> values (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate((SBC / name).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{name}:{number}: a key outside any section"
        assert "=" in line, f"{name}:{number}: {raw!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(section: dict[str, list[str]], key: str) -> str:
    values = section[key]
    assert len(values) == 1, key
    return values[0]


def test_the_slave_unit_restarts_and_is_watched() -> None:
    service = unit("bms-slave@.service")["Service"]
    assert one(service, "Type") == "notify"  # the slave sends READY=1 and WATCHDOG=1
    assert one(service, "Restart") == "always"
    assert 0 < float(one(service, "WatchdogSec")) <= 5
    assert one(service, "User") != "root"
    command = shlex.split(one(service, "ExecStart"))
    assert command[:4] == [INSTALLED_BMS, "slave", "--module", "%i"]
    assert "can@can0.service" in unit("bms-slave@.service")["Unit"]["Requires"][0]


def test_the_master_unit_may_take_its_realtime_priority() -> None:
    service = unit("bms-master.service")["Service"]
    assert one(service, "Type") == "notify"
    assert one(service, "Restart") == "always"
    assert "CAP_SYS_NICE" in one(service, "AmbientCapabilities")
    assert "CAP_SYS_NICE" in one(service, "CapabilityBoundingSet")
    assert shlex.split(one(service, "ExecStart"))[:2] == [INSTALLED_BMS, "master"]


@pytest.mark.parametrize(("name", "instance"), [("bms-slave@.service", "5"),
                                                ("bms-master.service", None)])
def test_unit_commands_accept_the_example_pack(name: str, instance: str | None) -> None:
    command = shlex.split(one(unit(name)["Service"], "ExecStart"))
    command = [part.replace("%i", instance or "") for part in command]
    command = [str(EXAMPLE) if part == INSTALLED_CONFIG else part for part in command]
    assert command[0] == INSTALLED_BMS
    result = subprocess.run([sys.executable, "-m", "bms", *command[1:], "--check-config"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    if instance is not None:
        assert f"slave {instance}, 16 cells, AFE ltc6813" in result.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    bms = Path(sys.executable).with_name("bms")
    assert bms.exists()
    for name in UNITS:
        text = (SBC / name).read_text().replace(INSTALLED_BMS, str(bms))
        (tmp_path / name).write_text(text.replace(INSTALLED_REPO, f"{REPO}/"))
    result = subprocess.run(["systemd-analyze", "verify", "bms-slave@3.service",
                             "bms-master.service", "can@can0.service"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    # systemd reports a bad key as a warning ("ignoring") and still exits 0
    assert (result.returncode, result.stderr.strip()) == (0, ""), result.stderr


@pytest.fixture
def fake_ip(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An `ip` that knows can0 only and records every call."""
    calls = tmp_path / "calls"
    script = tmp_path / "bin" / "ip"
    script.parent.mkdir()
    script.write_text(f"""#!/bin/sh
echo "$*" >> {calls}
[ "$1 $2 $3" != "link show can0" ] && [ "$1 $2" = "link show" ] && exit 1
exit 0
""")
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{script.parent}:{os.environ['PATH']}"}, calls


def test_can_up_brings_can0_up_at_500k_with_bus_off_recovery(
        fake_ip: tuple[dict[str, str], Path]) -> None:
    environment, calls = fake_ip
    result = subprocess.run([SBC / "can-up.sh"], env=environment, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "link show can0", "link set can0 down", "link set can0 txqueuelen 128",
        "link set can0 up type can bitrate 500000 restart-ms 100"]


def test_can_up_names_a_missing_interface(fake_ip: tuple[dict[str, str], Path]) -> None:
    environment, calls = fake_ip
    result = subprocess.run([SBC / "can-up.sh", "can7", "250000"], env=environment,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "no interface can7" in result.stderr
    assert calls.read_text().splitlines() == ["link show can7"]  # nothing was changed
