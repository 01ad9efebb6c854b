"""The brokers of a virtual site: one Mosquitto per pack (sim/broker.py's, the project's
deploy/mosquitto files) and one site broker, each pack's broker bridged to the site broker
as deploy/mosquitto/bridge.conf says (the pack's bridge user, TLS, a persistent session,
QoS 1), all on free loopback ports, with a CA and a server certificate made for the run.

Only files are written here: the plans say what to start (``argv``) and with which
passwords (``passwords_env``)."""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bms.settings import PACK_NAME
from sim import broker
from sim.broker import BrokerPlan

LOOPBACK = "127.0.0.1"
SITE_USER = "site"
BRIDGE_RECIPE = broker.DEPLOY / "bridge.conf"
BRIDGE_UP, BRIDGE_DOWN = b"1", b"0"  # the bridge's notifications (mosquitto.conf(5))
CERTIFICATE_DAYS = 7
# the bridges' timing on loopback (bridge.conf has a network's): reconnect after 1..2 s
RESTART_BASE_S, RESTART_CAP_S, KEEPALIVE_S = 1, 2, 5
OPENSSL_TIMEOUT_S = 60.0
# The site broker's TLS listener, commented out in deploy/mosquitto/mosquitto.conf
TLS_LISTENER = "#listener 8883"
TLS_LINES = ("#cafile ", "#certfile ", "#keyfile ", "#tls_version ")
# The CA and the server certificate (RFC 5280 extensions; Python's ssl checks the IP SAN)
OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:{host}, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def missing() -> str | None:
    """Why no site's brokers can run here, or None."""
    if (why := broker.missing()) is not None:
        return why
    if shutil.which("openssl") is None:
        return "openssl is not installed (Debian: apt install openssl)"
    return None


def bridge_topic(pack: str, prefix: str = "bms") -> str:
    """Where the bridge of ``pack`` says whether it is up (BRIDGE_UP, BRIDGE_DOWN)."""
    return f"{prefix}/{pack}/bridge"


def bridge_client_id(pack: str) -> str:
    """The bridge's client id on the site broker (its persistent session's)."""
    return f"site-{pack}"


@dataclass(frozen=True)
class Certificates:
    ca_file: Path  # what clients and bridges check the site broker's certificate against
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class SitePlan:
    """The site broker (``site``: its plain listener on loopback, for the site controller
    and dashboards on its machine; ``tls_port``: where the bridges log in) and each pack's
    broker, bridged to it."""

    site: BrokerPlan
    tls_port: int
    certificates: Certificates
    packs: dict[str, BrokerPlan]
    bridge_passwords: dict[str, str]  # pack -> its bridge user's password on the site broker

    @property
    def host(self) -> str:
        return LOOPBACK


def make_certificates(directory: Path, host: str = LOOPBACK,
                      days: int = CERTIFICATE_DAYS) -> Certificates:
    """A CA and a broker certificate it signs for ``host`` (an IP address SAN), with openssl,
    into ``directory`` as deploy/mosquitto/mosquitto.conf names them."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "openssl.cnf"
    config.write_text(OPENSSL_CONFIG.format(host=host))
    ca, broker_cert = directory / "ca.crt", directory / "broker.crt"
    ca_key, key, request = directory / "ca.key", directory / "broker.key", directory / "broker.csr"
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in (
            ["openssl", "req", "-x509", "-config", str(config), "-extensions", "ca", *new_key,
             "-subj", "/CN=BMS site CA (virtual site)", "-days", str(days),
             "-keyout", str(ca_key), "-out", str(ca)],
            ["openssl", "req", "-new", "-config", str(config), *new_key, "-subj", f"/CN={host}",
             "-keyout", str(key), "-out", str(request)],
            ["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey",
             str(ca_key), "-set_serial", str(secrets.randbits(63)), "-days", str(days),
             "-extfile", str(config), "-extensions", "server", "-out", str(broker_cert)]):
        subprocess.run(argv, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_S)
    ca_key.unlink()  # nothing more is signed with it
    request.unlink()
    key.chmod(0o600)
    return Certificates(ca, broker_cert, key)


def _set(text: str, directive: str, value: str) -> str:
    """``text`` with the line of ``directive`` set to ``value`` (it must be there once)."""
    pattern = re.compile(rf"^{re.escape(directive)} .*$", re.MULTILINE)
    text, count = pattern.subn(lambda _: f"{directive} {value}", text)
    if count != 1:
        raise ValueError(f"{directive}: {count} lines in the bridge recipe, one expected")
    return text


def bridge_section(pack: str, site_host: str, site_tls_port: int, ca_file: Path,
                   password: str, *, restart_base_s: int, restart_cap_s: int,
                   keepalive_s: int) -> str:
    """deploy/mosquitto/bridge.conf filled in for ``pack`` and the site broker."""
    text = BRIDGE_RECIPE.read_text().replace("<pack>", pack)
    text = text.replace("<site-broker>:8883", f"{site_host}:{site_tls_port}")
    text = text.replace("<bridge-password>", password)
    text = _set(text, "bridge_cafile", str(ca_file))
    text = _set(text, "restart_timeout", f"{restart_base_s} {restart_cap_s}")
    text = _set(text, "keepalive_interval", str(keepalive_s))
    if "<" in "".join(line for line in text.splitlines() if not line.startswith("#")):
        raise ValueError(f"{BRIDGE_RECIPE}: a placeholder is left")
    return text


def _enable_tls_listener(conf: Path, port: int) -> None:
    """Uncomment the TLS listener of the project's mosquitto.conf, on loopback at ``port``."""
    lines = conf.read_text().splitlines()
    if TLS_LISTENER not in lines:
        raise ValueError(f"{conf}: no '{TLS_LISTENER}' line")
    enabled = [f"listener {port} {LOOPBACK}" if line == TLS_LISTENER
               else line[1:] if line.startswith(TLS_LINES) else line for line in lines]
    for line in enabled:
        directive, _, value = line.partition(" ")
        if directive in ("cafile", "certfile", "keyfile") and not Path(value).is_file():
            raise ValueError(f"{conf}: {directive} {value} does not exist")
    conf.write_text("\n".join(enabled) + "\n")


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held together while they are chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((LOOPBACK, 0))
        return [int(s.getsockname()[1]) for s in sockets]


def _pack_passwords() -> dict[str, str]:
    """New passwords for a pack broker's users (no site user: the site reads its own)."""
    return {user: secrets.token_urlsafe(18) for user in broker.USERS_ENV if user != SITE_USER}


def _check_packs(packs: list[str]) -> None:
    if not packs:
        raise ValueError("a site needs at least one pack")
    for pack in packs:
        if not PACK_NAME.fullmatch(pack) or pack in broker.USERS_ENV:
            raise ValueError(f"{pack!r} cannot be a pack of a site (a pack name, not a user's)")
    if len({broker.bridge_password_env(pack) for pack in packs}) != len(packs):
        raise ValueError(f"two of {packs} share a bridge password variable")


def configure_site(directory: Path, packs: list[str], *,
                   restart_base_s: int = RESTART_BASE_S, restart_cap_s: int = RESTART_CAP_S,
                   keepalive_s: int = KEEPALIVE_S) -> SitePlan:
    """Write the brokers of a site of ``packs`` into ``directory`` (``site/``, and
    ``packs/<pack>/`` each), with new random passwords, on free loopback ports; the bridges
    reconnect after restart_base_s .. restart_cap_s (bridge.conf's restart_timeout)."""
    _check_packs(packs)
    site_port, tls_port, *pack_ports = _free_ports(2 + len(packs))
    bridge_passwords = {pack: secrets.token_urlsafe(18) for pack in packs}
    site_dir = directory / "site"
    site = broker.configure(site_dir, site_port, bridge_passwords=bridge_passwords)
    certificates = make_certificates(site_dir / "config" / "certs")
    _enable_tls_listener(site.config, tls_port)
    plans: dict[str, BrokerPlan] = {}
    for pack, port in zip(packs, pack_ports, strict=True):
        plan = broker.configure(directory / "packs" / pack, port, _pack_passwords())
        section = bridge_section(pack, LOOPBACK, tls_port, certificates.ca_file,
                                 bridge_passwords[pack], restart_base_s=restart_base_s,
                                 restart_cap_s=restart_cap_s, keepalive_s=keepalive_s)
        with plan.config.open("a") as conf:
            conf.write("\n" + section)
        plan.config.chmod(0o600)  # it holds the bridge's password
        plans[pack] = plan
    return SitePlan(site, tls_port, certificates, plans, bridge_passwords)
