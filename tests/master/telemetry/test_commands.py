"""Operator commands: validated, and only ever requests to the state machine."""

from __future__ import annotations

import contextlib
import random

import msgpack
import pytest

from bms.settings import load_settings
from dbc.frames import MasterState
from dbc.vehicle_frames import RequestedState
from master.core import MasterCore
from master.telemetry.commands import (
    MAX_COMMAND_BYTES,
    Command,
    CommandError,
    apply_command,
    parse_command,
    result_payload,
)
from master.telemetry.payloads import unpack


def command(**fields: object) -> bytes:
    return bytes(msgpack.packb({"v": 1, **fields}))


def core(*overrides: str) -> MasterCore:
    return MasterCore(load_settings(None, ["pack.modules=2", *overrides]), 0.0)


@pytest.mark.parametrize(("payload", "problem"), [
    (b"\xc1", "msgpack"),
    (bytes(msgpack.packb("reset")), "map"),
    (command(command="close_contactors"), "unknown command"),
    (bytes(msgpack.packb({"command": "fault_reset"})), "schema version"),
    (command(command="balancing"), "takes"),
    (command(command="balancing", enabled="yes"), "true or false"),
    (command(command="charge_target", soc_pct=5), "10..100"),
    (command(command="charge_target", soc_pct=float("nan")), "10..100"),
    (command(command="charge_target", soc_pct=True), "10..100"),
    (command(command="state", request="close"), "standby, drive, charge"),
    (command(command="fault_reset", extra=1), "no arguments"),
    (command(command="fault_reset", pad="x" * MAX_COMMAND_BYTES), "longer than"),
    # each of these raised TypeError past the parser and ended the master's MQTT thread
    (command(command="state", request=["drive"]), "standby, drive, charge"),
    (command(command="state", request={"a": 1}), "standby, drive, charge"),
    (command(command=["state"]), "unknown command"),
    (b"\x82\xa1v\x01\x91\x01\x01", "msgpack"),  # {"v": 1, [1]: 1}: an array as a key
    (b"\x81\x81\x01\x01\x01", "msgpack"),  # a map as a key
    (command(command="fault_reset", **{"1": 2}).replace(b"\xa11", b"\x01"), "no arguments"),
])
def test_invalid_commands_are_refused_with_the_reason(payload: bytes, problem: str) -> None:
    with pytest.raises(CommandError, match=problem):
        parse_command(payload)


def test_no_payload_raises_anything_but_a_command_error() -> None:
    """Random and mutated payloads: a command or a CommandError, never another exception."""
    rng = random.Random(25)
    valid = [command(command="state", request="drive", id="x"),
             command(command="charge_target", soc_pct=50), command(command="balancing",
                                                                   enabled=True)]
    for _ in range(20_000):
        base = bytearray(rng.choice(valid))
        for _ in range(rng.randint(1, 4)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        payload = bytes(base) if rng.random() < 0.8 else rng.randbytes(rng.randint(0, 40))
        with contextlib.suppress(CommandError):  # anything else fails the test
            parse_command(payload)


def test_a_valid_command_keeps_its_id() -> None:
    assert parse_command(command(command="balancing", enabled=False, id="op-1")) == \
        Command("balancing", {"enabled": False}, "op-1")


def test_balancing_and_reset_are_requests() -> None:
    c = core()
    assert apply_command(c, Command("balancing", {"enabled": False}), 1.0) is None
    assert c.remote.balancing_enabled is False
    assert apply_command(c, Command("fault_reset", {}), 1.0) is None
    assert c.remote.reset_until_s > 1.0
    assert c.state is MasterState.INIT  # nothing else moved


def test_a_state_request_is_refused_when_a_vcu_decides() -> None:
    c = core()
    refused = apply_command(c, Command("state", {"request": "drive"}), 1.0)
    assert refused is not None
    assert "VCU" in refused
    assert c.remote.state is None


def test_without_a_vcu_a_state_request_goes_to_the_state_machine_which_may_refuse() -> None:
    c = core("endpoints.vcu=false")
    assert apply_command(c, Command("state", {"request": "drive"}), 1.0) is None
    assert c.remote.state is RequestedState.DRIVE
    out = c.tick(1.1)  # no module, no sensor: the state machine does not close
    assert c.state is not MasterState.NORMAL
    assert c.closing_blocked() is not None
    assert out.reaction is None


def test_a_charge_target_needs_a_charger() -> None:
    assert apply_command(core(), Command("charge_target", {"soc_pct": 80}), 1.0) == \
        "this pack has no charger"
    c = core("endpoints.charger=elcon")
    assert apply_command(c, Command("charge_target", {"soc_pct": 80}), 1.0) is None
    assert c.endpoints.charger is not None
    assert c.endpoints.charger.target_soc == 0.8


def test_the_result_says_why() -> None:
    result = unpack(result_payload("op-2", "this pack has no charger", 5.0))
    assert result == {"v": 1, "t": 5.0, "id": "op-2", "accepted": False,
                      "reason": "this pack has no charger"}
