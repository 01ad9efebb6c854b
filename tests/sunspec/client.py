"""pysunspec2 (the SunSpec Alliance's own Python client, its own Modbus TCP code) as the
independent reader of our server: a scan, every point's value with its scale factor
applied, and writes. Blocking: the tests run it in a thread beside the server's loop."""

from __future__ import annotations

from typing import Any

from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

TIMEOUT_S = 5.0


def device(port: int, unit_id: int = 1) -> SunSpecModbusClientDeviceTCP:
    return SunSpecModbusClientDeviceTCP(slave_id=unit_id, ipaddr="127.0.0.1", ipport=port,
                                        timeout=TIMEOUT_S)


def scan(port: int, unit_id: int = 1) -> dict[Any, Any]:
    """model id -> {point: computed value}, groups as lists of such dicts; with the
    device's base address and every model's errors."""
    client = device(port, unit_id)
    try:
        client.scan()
        found: dict[Any, Any] = {"base": client.base_addr}
        for model_id, models in client.models.items():
            if not isinstance(model_id, int):
                continue
            [model] = models
            found[model_id] = {
                "error": model.error_info,
                "points": {name: p.cvalue for name, p in model.points.items()},
                "groups": {name: [{n: p.cvalue for n, p in g.points.items()}
                                  for g in (groups if isinstance(groups, list) else [groups])]
                           for name, groups in model.groups.items()},
            }
        return found
    finally:
        client.disconnect()


def write(port: int, model_id: int, point: str, value: int, group: str | None = None
          ) -> None:
    """Writes one point (raw value; of the first repeat of ``group``) as pysunspec2 writes:
    function 16."""
    client = device(port)
    try:
        client.scan()
        client.connect()
        model = client.models[model_id][0]
        container = model.groups[group][0] if group else model
        container.points[point].value = value  # dirty: what the container's write sends
        container.write()
    finally:
        client.disconnect()
