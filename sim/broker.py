"""The virtual pack's broker: Mosquitto with the project's own files (deploy/mosquitto: its
mosquitto.conf, its ACL, the users of make-users.sh) on a loopback port, with passwords
made for this run, so the master, the dashboard and the operator meet the same rules as on
a real installation (sim/site_brokers.py builds a site's brokers on it)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto"
USERS_ENV = {"bms-master": "BMS_MQTT_PASSWORD", "operator": "BMS_OPERATOR_PASSWORD",
             "monitor": "BMS_MONITOR_PASSWORD", "historian": "BMS_HISTORIAN_PASSWORD",
             "homeassistant": "BMS_HOMEASSISTANT_PASSWORD", "site": "BMS_SITE_PASSWORD"}


def bridge_password_env(pack: str) -> str:
    """The variable make-users.sh reads the bridge password of ``pack`` from."""
    return "BMS_BRIDGE_PASSWORD_" + pack.upper().replace("-", "_").replace(".", "_")


def free_port(preferred: int = 0) -> int:
    """``preferred`` when it is free on loopback, else any free port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free loopback port")


def missing() -> str | None:
    """Why no broker can run here, or None."""
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        return "mosquitto is not installed (Debian: apt install mosquitto)"
    if not (DEPLOY / "make-users.sh").exists():
        return f"{DEPLOY} is missing (a checkout of the project has it)"
    return None


@dataclass(frozen=True)
class BrokerPlan:
    config: Path
    port: int
    passwords_env: dict[str, str]  # environment variable -> password

    @property
    def argv(self) -> list[str]:
        return ["mosquitto", "-c", str(self.config)]


def configure(directory: Path, port: int = 0,
              passwords: dict[str, str] | None = None,
              bridge_passwords: dict[str, str] | None = None) -> BrokerPlan:
    """Write the broker's files into ``directory`` (passwords: each user's, else new random
    ones) for ``port`` (0: a free one); on a site broker, ``bridge_passwords``: each pack's
    bridge user and its password."""
    passwords = passwords or {user: secrets.token_urlsafe(18) for user in USERS_ENV}
    bridge_passwords = bridge_passwords or {}
    environment = {USERS_ENV[user]: password for user, password in passwords.items()}
    environment |= {bridge_password_env(pack): password
                    for pack, password in bridge_passwords.items()}
    config = directory / "config"
    subprocess.run(["sh", str(DEPLOY / "make-users.sh"), str(config), *bridge_passwords],
                   env={**os.environ, **environment}, check=True, capture_output=True,
                   timeout=30)
    port = port or free_port()
    text = (config / "mosquitto.conf").read_text()
    text = text.replace("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")
    text = text.replace("/mosquitto/config/", f"{config}/")
    text = text.replace("/mosquitto/data/", f"{directory / 'data'}/")
    if os.geteuid() == 0:
        text += "\nuser root\n"  # as root it would switch to a user that cannot read them
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (config / "mosquitto.conf").write_text(text)
    return BrokerPlan(config / "mosquitto.conf", port, environment)
