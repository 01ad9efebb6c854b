"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the structure of
the Compose specification, files that exist, and commands that `bms` accepts."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bms.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
IN_IMAGE = "/app/"  # the Dockerfile's WORKDIR
TOP_LEVEL = {"version", "name", "services", "networks", "volumes", "configs", "secrets"}
SERVICE_KEYS = {"build", "image", "command", "entrypoint", "environment", "network_mode",
                "privileged", "restart", "depends_on", "cap_add", "volumes", "user",
                "healthcheck", "working_dir", "devices"}
RESTART = {"no", "always", "on-failure", "unless-stopped"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def repo_path(path: str) -> Path:
    return REPO / path.removeprefix(IN_IMAGE) if path.startswith(IN_IMAGE) else REPO / path


def test_top_level_and_service_keys_follow_the_specification() -> None:
    data = compose()
    assert set(data) - TOP_LEVEL <= {k for k in data if k.startswith("x-")}
    assert data["services"]
    for name, service in services().items():
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name)
        assert set(service) <= SERVICE_KEYS, f"{name}: {set(service) - SERVICE_KEYS}"
        assert "image" in service or "build" in service, name
        assert isinstance(service.get("command", []), list), f"{name}: command as a list"
        assert all(isinstance(part, str) for part in service.get("command", []))
        assert str(service.get("restart", "no")) in RESTART, name
        environment = service.get("environment", {})
        assert isinstance(environment, dict)
        assert all(isinstance(v, str) for v in environment.values()), name
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in data["services"], f"{name} depends on unknown {dependency}"
            assert rule["condition"] in CONDITIONS


def test_every_service_is_on_the_host_network_and_only_vcan_is_privileged() -> None:
    for name, service in services().items():
        assert service["network_mode"] == "host", name  # the vcan interfaces are the host's
        assert bool(service.get("privileged")) == (name == "vcan"), name


def test_the_buses_and_the_roles() -> None:
    all_services = services()
    assert all_services["vcan"]["command"][1:] == ["vcan0", "vcan1", "vcan2"]
    roles = {name: s["command"][1] for name, s in all_services.items()
             if s.get("command", [""])[0] == "bms"}
    slaves = sorted(int(all_services[n]["environment"]["BMS_MODULE"])
                    for n, role in roles.items() if role == "slave")
    master = all_services["master"]["command"]
    config = repo_path(master[master.index("--config") + 1])
    settings = load_settings(config)
    assert slaves == list(range(settings.pack.modules))  # one container per module
    assert {"master", "sim"} <= set(roles.values())
    # the HV box and every vehicle-bus peer the pack's configuration has
    assert {s["command"][2] for s in all_services.values()
            if s.get("command", [None, None])[1] == "sim"} == {"hv-box", "vcu", "charger"}
    assert settings.endpoints.vcu
    assert settings.endpoints.charger == "elcon"
    for bus, channel in (("pack", "vcan0"), ("vehicle", "vcan1"), ("sim", "vcan2")):
        kwargs = getattr(settings.bus, bus)
        assert (kwargs["interface"], kwargs["channel"]) == ("socketcan", channel)


def test_every_file_it_names_exists() -> None:
    for name, service in services().items():
        if "build" in service:
            context = REPO / (service["build"] if isinstance(service["build"], str)
                              else service["build"]["context"])
            assert (context / "Dockerfile").is_file(), name
        for part in service.get("command", []):
            if part.startswith(IN_IMAGE):
                assert repo_path(part).exists(), f"{name}: {part}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):  # a bind mount of the repository
                assert (REPO / source).exists(), f"{name}: {source}"
            else:  # a named volume, declared at the top level
                assert source in (compose().get("volumes") or {}), f"{name}: {source}"
        if name == "mqtt-users":  # the script it runs is the repository's
            assert (REPO / "deploy/mosquitto/make-users.sh").is_file()


@pytest.mark.parametrize("name", [n for n, s in yaml.safe_load(COMPOSE.read_text())
                                  ["services"].items() if s.get("command", [""])[0] == "bms"])
def test_every_bms_command_is_accepted(name: str) -> None:
    service = services()[name]
    command = [repo_path(p).as_posix() if p.startswith(IN_IMAGE) else p
               for p in service["command"][1:]]
    environment = {**os.environ, **service.get("environment", {})}
    done = subprocess.run([sys.executable, "-m", "bms", *command, "--check-config"],
                          capture_output=True, text=True, env=environment, timeout=120,
                          check=False)
    assert done.returncode == 0, f"{shlex.join(command)}: {done.stderr}"
    assert "configuration OK" in done.stdout


def test_the_dockerfile_builds_one_image_for_every_role() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    for package in ("bms", "dbc", "master", "slave", "sim", "replay"):
        assert f"COPY {package} ./{package}" in text
        assert (REPO / package / "__init__.py").is_file()
    assert "pip install --no-cache-dir ." in text
    assert "iproute2" in text  # the vcan service runs ip link


def test_the_vcan_setup_script() -> None:
    script = REPO / "deploy" / "docker" / "setup-vcan.sh"
    assert os.access(script, os.X_OK)
    done = subprocess.run(["sh", "-n", str(script)], capture_output=True, check=False)
    assert done.returncode == 0
