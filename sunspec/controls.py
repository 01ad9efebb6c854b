"""Modbus writes, judged: which register a site controller may write, and what a write
does. Pure: a write becomes a refusal (a Modbus exception code) or what to do, which the
service carries out (an MQTT operator command, or a value kept to be read back).

With ``[sunspec] controls = false`` (the default) every write is refused with ILLEGAL
FUNCTION. With controls on, the writable points of model 802 do this (docs/sunspec.md):

- ``SetOp`` 1 (CONNECT): the ``state`` command ``request: drive`` (the pack closes its
  contactors when it is healthy, as without a VCU); 2 (DISCONNECT): ``request: standby``
  (they open). It is a request: the master's state machine decides.
- ``AlmRst`` 1: the ``fault_reset`` command (leaves ERROR only when no fatal cause
  remains); 0: nothing. It reads 0 again at once.
- ``SetInvState`` 1..3 (the inverter's state, for the battery's information) and ``CtrlHb``
  (the controller's heartbeat): kept and read back; no command.

Every other register is refused with ILLEGAL ADDRESS (read-only, or writable in the model
but not taken here: ``SocRsvMax``, ``SoCRsvMin``, ``DA``, the string enable and connect
points); a value outside a point's enumeration with ILLEGAL VALUE. A write must cover
whole points, and is taken all or nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sunspec.mapping import SetOp
from sunspec.models import BATTERY
from sunspec.registers import Layout


class ModbusError(enum.IntEnum):
    """Modbus exception codes (Modbus Application Protocol V1.1b3, section 7)."""

    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_ADDRESS = 0x02
    ILLEGAL_VALUE = 0x03
    DEVICE_FAILURE = 0x04


INVERTER_STATES = range(1, 4)  # INVERTER_STOPPED, INVERTER_STANDBY, INVERTER_STARTED
UINT16_VALUES = range(0, 0xFFFF)  # 0xFFFF is "not implemented"


@dataclass(frozen=True)
class Command:
    """An operator command for the master (master/telemetry/commands.py)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Keep:
    """A value kept to be read back: ``point`` is ``CtrlHb`` or ``SetInvState``."""

    point: str
    value: int


Action = Command | Keep


def _set_op(value: int) -> list[Action] | None:
    request = {SetOp.CONNECT: "drive", SetOp.DISCONNECT: "standby"}.get(value)
    return None if request is None else [Command("state", {"request": request})]


def _alarm_reset(value: int) -> list[Action] | None:
    if value not in (0, 1):
        return None
    return [Command("fault_reset", {})] if value == 1 else []


def _kept(point: str, allowed: range) -> Callable[[int], list[Action] | None]:
    return lambda value: [Keep(point, value)] if value in allowed else None


# point of model 802 -> the actions of a value written to it (None: the value is refused)
WRITABLE: dict[str, Callable[[int], list[Action] | None]] = {
    "SetOp": _set_op,
    "AlmRst": _alarm_reset,
    "SetInvState": _kept("SetInvState", INVERTER_STATES),
    "CtrlHb": _kept("CtrlHb", UINT16_VALUES),
}


def judge_write(layout: Layout, address: int, values: list[int], controls: bool
                ) -> ModbusError | list[Action]:
    """A refusal, or the actions of a write of ``values`` from ``address`` on."""
    if not controls:
        return ModbusError.ILLEGAL_FUNCTION
    actions: list[Action] = []
    offset = 0
    while offset < len(values):
        placed = layout.at(address + offset)
        if placed is None or placed.model is not BATTERY or placed.point.name not in WRITABLE \
                or offset + placed.point.size > len(values):
            return ModbusError.ILLEGAL_ADDRESS
        more = WRITABLE[placed.point.name](values[offset])
        if more is None:
            return ModbusError.ILLEGAL_VALUE
        actions += more
        offset += placed.point.size
    return actions
