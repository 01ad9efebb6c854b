"""What every client of the project's broker shares: TLS from a CA file, and the operator's
command sender (the dashboard, the SunSpec server)."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Awaitable, Callable

import aiomqtt

from bms.endpoint_settings import MqttSettings

SendCommand = Callable[[str, bytes], Awaitable[None]]  # (pack, payload)


def tls_of(ca_file: str) -> aiomqtt.TLSParameters | None:
    """TLS checked against ``ca_file``; None (plain TCP) when it is empty."""
    return aiomqtt.TLSParameters(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED) \
        if ca_file else None


def operator_sender(mqtt: MqttSettings, username: str, password_env: str,
                    timeout_s: float) -> SendCommand | None:
    """Publishes a command to ``<prefix>/<pack>/command`` as ``username`` (a connection per
    command: they are rare), within ``timeout_s``; None when its password is not set in
    ``password_env`` (commands off)."""
    password = os.environ.get(password_env)
    if username and password is None:
        return None

    async def send(pack: str, payload: bytes) -> None:
        async with asyncio.timeout(timeout_s), aiomqtt.Client(
                mqtt.host, mqtt.port, username=username or None, password=password,
                tls_params=tls_of(mqtt.tls_ca_file), timeout=timeout_s) as client:
            await client.publish(f"{mqtt.prefix}/{pack}/command", payload, qos=1)

    return send
