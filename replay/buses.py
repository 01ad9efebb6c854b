"""Naming a bus on the command line: ``pack``, ``vehicle``, ``sim`` (from the pack's
configuration) or ``INTERFACE:CHANNEL`` for any python-can interface."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from bms.errors import ConfigError
from bms.settings import Settings, bus_kwargs

PROJECT_BUSES = ("pack", "vehicle", "sim")


@dataclass(frozen=True)
class BusSpec:
    name: str  # what frames from this bus are labelled with in a log
    kwargs: dict[str, Any]


def parse_bus(text: str, settings: Settings, extra: list[str] | None = None) -> BusSpec:
    """``pack`` / ``vehicle`` / ``sim``, or ``INTERFACE:CHANNEL`` plus ``KEY=VALUE`` extras."""
    if text in PROJECT_BUSES:
        kwargs: dict[str, Any] = dict(bus_kwargs(settings, text))
        name = text
    else:
        interface, sep, channel = text.partition(":")
        if not sep or not interface or not channel:
            raise ConfigError(f"bus {text!r}: expected pack, vehicle, sim or INTERFACE:CHANNEL "
                              "(socketcan:vcan0, udp_multicast:239.74.163.2, ...)")
        kwargs = {"interface": interface, "channel": channel}
        name = channel
    for item in extra or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"bus argument {item!r}: expected KEY=VALUE (port=43113)")
        try:
            kwargs[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            kwargs[key] = value
    return BusSpec(name, kwargs)
