"""Operator commands from MQTT: parsed, validated, then applied as requests.

A command is a msgpack map ``{"v": 1, "command": NAME, ...}`` with an optional ``id`` that
the result echoes. Commands never act on the contactors: they set what the operator asks
for, and the state machine and the balancing planner decide as they do for the VCU.

- ``balancing`` ``enabled: bool``: allow or stop balancing;
- ``fault_reset``: the reset request (leaves ERROR only if no fatal cause remains);
- ``charge_target`` ``soc_pct: 10..100``: where the charger's charge ends;
- ``state`` ``request: standby|drive|charge``: only in packs without a VCU (with one, the
  VCU alone asks);
- ``set_soc`` ``soc_pct: 0..100`` (and ``sigma_pct``, the operator's 1-sigma: 0.1..50, else
  ``drift.set_sigma_pct``): the SOC (usable, as published), taken by the estimator as a
  measurement; refused under current and beyond ``drift.set_max_change_pct``
  (master/estimation/drift.py).

Every command may carry ``expires_t`` (Unix time, the sender's clock): after it the command
is refused as expired, not applied. A site controller sets it, so that a request held by a
broker through an outage cannot act after the site has changed its mind (docs/site.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbc.vehicle_frames import RequestedState
from master.telemetry.payloads import SCHEMA_VERSION, pack_bytes, unpack

if TYPE_CHECKING:  # the dashboard checks commands with this module and loads no core
    from master.core import MasterCore

MAX_COMMAND_BYTES = 1024
COMMANDS = ("balancing", "fault_reset", "charge_target", "state", "set_soc")
REQUESTS = {"standby": RequestedState.STANDBY, "drive": RequestedState.DRIVE,
            "charge": RequestedState.CHARGE}
SOC_RANGE_PCT = (10.0, 100.0)
SET_SOC_RANGE_PCT = (0.0, 100.0)
SIGMA_RANGE_PCT = (0.1, 50.0)
# the arguments each command takes: required, and optional
ARGUMENTS: dict[str, tuple[set[str], set[str]]] = {
    "balancing": ({"enabled"}, set()), "fault_reset": (set(), set()),
    "charge_target": ({"soc_pct"}, set()), "state": ({"request"}, set()),
    "set_soc": ({"soc_pct"}, {"sigma_pct"})}


class CommandError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    name: str
    arguments: dict[str, Any]
    id: str | None = None
    expires_t: float | None = None

    def expired(self, wall_s: float) -> str | None:
        """The refusal when ``wall_s`` is past the command's ``expires_t``, else None."""
        if self.expires_t is None or wall_s <= self.expires_t:
            return None
        return f"expired {wall_s - self.expires_t:.1f} s before it arrived"


def _id_of(message: dict[str, Any]) -> str | None:
    value = message.get("id")
    return str(value)[:64] if isinstance(value, (str, int)) else None


def parse_command(data: bytes) -> Command:
    """The command in a payload; CommandError says what is wrong with it (and nothing else
    is raised: every value is checked for its type before it is used)."""
    if len(data) > MAX_COMMAND_BYTES:
        raise CommandError(f"longer than {MAX_COMMAND_BYTES} bytes")
    try:
        message = unpack(data)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if message.get("v") != SCHEMA_VERSION:
        raise CommandError(f"schema version {message.get('v')!r}, expected {SCHEMA_VERSION}")
    name = message.get("command")
    if not isinstance(name, str) or name not in COMMANDS:
        raise CommandError(f"unknown command {name!r}: one of {', '.join(COMMANDS)}")
    arguments = {k: v for k, v in message.items()
                 if k not in ("v", "command", "id", "expires_t")}
    expires_t = message.get("expires_t")
    if expires_t is not None and (isinstance(expires_t, bool) or not isinstance(
            expires_t, (int, float)) or not math.isfinite(expires_t)):
        raise CommandError("expires_t must be a Unix time")
    required, optional = ARGUMENTS[name]
    if not required <= set(arguments) <= required | optional:
        takes = sorted(required) + [f"{key} (optional)" for key in sorted(optional)]
        raise CommandError(f"{name} takes {takes or 'no arguments'}, "
                           f"got {sorted(map(str, arguments))}")
    if name == "balancing" and not isinstance(arguments["enabled"], bool):
        raise CommandError("balancing: enabled must be true or false")
    if name == "charge_target":
        _check_number(name, "soc_pct", arguments["soc_pct"], SOC_RANGE_PCT)
    if name == "set_soc":
        _check_number(name, "soc_pct", arguments["soc_pct"], SET_SOC_RANGE_PCT)
        if "sigma_pct" in arguments:
            _check_number(name, "sigma_pct", arguments["sigma_pct"], SIGMA_RANGE_PCT)
    if name == "state" and (not isinstance(arguments["request"], str)
                            or arguments["request"] not in REQUESTS):
        raise CommandError(f"state: request must be one of {', '.join(REQUESTS)}")
    return Command(name, arguments, _id_of(message),
                   None if expires_t is None else float(expires_t))


def _check_number(name: str, key: str, value: object, bounds: tuple[float, float]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or not bounds[0] <= value <= bounds[1]:
        raise CommandError(f"{name}: {key} must be a number in {bounds[0]:g}..{bounds[1]:g}")


def apply_command(core: MasterCore, command: Command, now_s: float) -> str | None:
    """Hand a valid command to the core as a request; the reason when it is refused."""
    refused = None
    if command.name == "balancing":
        core.request_balancing(bool(command.arguments["enabled"]))
    elif command.name == "fault_reset":
        core.request_fault_reset(now_s)
    elif command.name == "charge_target":
        refused = core.request_charge_target(float(command.arguments["soc_pct"]) / 100.0)
    elif command.name == "state":
        refused = core.request_state(REQUESTS[str(command.arguments["request"])])
    elif command.name == "set_soc":
        sigma = command.arguments.get("sigma_pct")
        refused = core.request_soc(float(command.arguments["soc_pct"]) / 100.0,
                                   None if sigma is None else float(sigma) / 100.0, now_s)
    if refused is not None:
        return refused
    core.note(f"operator command: {command.name} {command.arguments or ''}".rstrip(), now_s)
    return None


def result_payload(command_id: str | None, refused: str | None, wall_s: float) -> bytes:
    return pack_bytes({"t": wall_s, "id": command_id, "accepted": refused is None,
                       "reason": refused or ""})
