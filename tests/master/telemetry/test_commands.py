"""Operator commands: validated, and only ever requests to the state machine."""

from __future__ import annotations

import contextlib
import random

import msgpack
import numpy as np
import pytest

from bms.endpoint_settings import MqttSettings
from bms.settings import load_settings
from dbc.frames import MasterState
from dbc.vehicle_frames import RequestedState
from master.core import MasterCore
from master.events import EstimationEvent
from master.store_writer import stored
from master.telemetry.commands import (
    MAX_COMMAND_BYTES,
    Command,
    CommandError,
    apply_command,
    parse_command,
    result_payload,
)
from master.telemetry.payloads import event_payload, unpack
from master.telemetry.publisher import InvalidCommand, TelemetryPublisher
from sim.lockstep import LockstepPack


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
    (command(command="set_soc"), r"takes \['soc_pct', 'sigma_pct \(optional\)'\]"),
    (command(command="set_soc", soc_pct=50, sigma=2), "takes"),
    (command(command="set_soc", soc_pct=100.5), r"soc_pct must be a number in 0\.\.100"),
    (command(command="set_soc", soc_pct=-1), "0..100"),
    (command(command="set_soc", soc_pct=float("inf")), "0..100"),
    (command(command="set_soc", soc_pct=False), "0..100"),
    (command(command="set_soc", soc_pct="50"), "0..100"),
    (command(command="set_soc", soc_pct=50, sigma_pct=0),
     r"sigma_pct must be a number in 0\.1\.\.50"),
    (command(command="set_soc", soc_pct=50, sigma_pct=60), "0.1..50"),
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


def test_a_command_past_its_expiry_is_refused_and_one_before_it_is_not() -> None:
    # a site's request held by a broker through an outage must not act late
    parsed = parse_command(command(command="state", request="drive", expires_t=1000.0))
    assert parsed.arguments == {"request": "drive"}
    assert parsed.expires_t == 1000.0
    assert parsed.expired(999.9) is None
    assert parsed.expired(1002.5) == "expired 2.5 s before it arrived"
    assert parse_command(command(command="fault_reset")).expired(1e12) is None


@pytest.mark.parametrize("expires_t", ["soon", True, float("nan"), [1.0]])
def test_an_expiry_that_is_not_a_time_is_refused(expires_t: object) -> None:
    with pytest.raises(CommandError, match="expires_t must be a Unix time"):
        parse_command(command(command="fault_reset", expires_t=expires_t))


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


# --- set_soc ---------------------------------------------------------------------------------

def started_pack(*overrides: str) -> LockstepPack:
    """A virtual pack whose estimator has started: in STANDBY (the contactors open, no
    current) or driving (the VCU's profile: 2 C and more)."""
    p = LockstepPack(load_settings(None, ["pack.modules=2", "sim.vcu.start_delay_s=0.5",
                                          *overrides]))
    p.run_until(lambda: p.master.algorithms.estimate is not None, 5.0)
    return p


def estimation_events(c: MasterCore) -> list[EstimationEvent]:
    return [e for e in c.statistics.events if isinstance(e, EstimationEvent)]


def test_set_soc_parses_with_and_without_its_sigma() -> None:
    assert parse_command(command(command="set_soc", soc_pct=62.5, id="s1")) == \
        Command("set_soc", {"soc_pct": 62.5}, "s1")
    assert parse_command(command(command="set_soc", soc_pct=0, sigma_pct=0.5)).arguments == \
        {"soc_pct": 0, "sigma_pct": 0.5}


def test_set_soc_at_rest_is_taken_with_an_event_of_the_old_and_new_soc() -> None:
    p = started_pack("sim.vcu.request=standby")
    c = p.master
    estimator = c.algorithms.estimator
    before = estimator.filter.soc.copy()
    old = c.report(p.now_s).estimate
    assert old is not None
    target = round(old.soc_usable * 100) + 10.0
    assert apply_command(c, Command("set_soc", {"soc_pct": target, "sigma_pct": 2.0}, "s1"),
                         p.now_s) is None
    [event] = estimation_events(c)
    assert event.entry == "soc_set"
    assert event.old == pytest.approx(old.soc_usable * 100)
    assert event.new == pytest.approx(target)
    new = c.report(p.now_s)
    assert new.estimate is not None
    assert new.estimate.soc_usable == pytest.approx(target / 100)
    shift = estimator.filter.soc - before
    assert np.ptp(shift) == pytest.approx(0.0, abs=1e-12)  # every cell alike: the spread stays
    assert new.cell_soc_sigma == pytest.approx((0.02,) * 32)
    # the event goes where every event goes: the journal that the store and MQTT take
    drained = c.drain_events()
    assert event in drained
    assert any("operator command: set_soc" in e.describe() for e in drained)
    stored_event = stored(event, 1000.0, None)
    assert (stored_event.kind, stored_event.entry) == ("estimation", "soc_set")
    assert stored_event.freeze == {"old": event.old, "new": event.new, "unit": "%"}
    payload = unpack(event_payload(stored_event))
    assert payload["kind"] == "estimation"
    assert payload["freeze"]["new"] == pytest.approx(target)


def test_set_soc_under_current_is_refused_with_the_reason() -> None:
    p = started_pack()  # the VCU drives: 2 C and more
    p.run_until(lambda: abs(p.master.report(p.now_s).current_a) > 1.0, 10.0)
    c = p.master
    before = c.algorithms.estimator.filter.soc.copy()
    refused = apply_command(c, Command("set_soc", {"soc_pct": 50.0}), p.now_s)
    assert refused is not None
    assert "(drift.set_max_current_c): set the SOC at rest" in refused
    assert np.array_equal(c.algorithms.estimator.filter.soc, before)
    assert estimation_events(c) == []
    assert not any("operator command" in e.describe() for e in c.statistics.events)


def test_set_soc_beyond_the_step_per_command_is_refused() -> None:
    p = started_pack("sim.vcu.request=standby", "drift.set_max_change_pct=5")
    c = p.master
    old = c.report(p.now_s).estimate
    assert old is not None
    refused = apply_command(c, Command("set_soc", {"soc_pct": old.soc_usable * 100 + 6}),
                            p.now_s)
    assert refused is not None
    assert "more than drift.set_max_change_pct (5)" in refused
    assert apply_command(c, Command("set_soc", {"soc_pct": old.soc_usable * 100 + 4}),
                         p.now_s) is None


def test_set_soc_before_the_estimator_has_started_is_refused() -> None:
    assert apply_command(core(), Command("set_soc", {"soc_pct": 50.0}), 1.0) == \
        "the estimator has not started yet"


def test_a_replayed_set_soc_is_refused_like_any_command() -> None:
    telemetry = TelemetryPublisher(MqttSettings(), "pack", None)  # not started: no broker
    once = command(command="set_soc", soc_pct=55, id="op-7")
    assert isinstance(telemetry.judge(once, retained=False), Command)
    replayed = telemetry.judge(once, retained=False)
    assert isinstance(replayed, InvalidCommand)
    assert "seen already" in replayed.reason
    retained = telemetry.judge(command(command="set_soc", soc_pct=55, id="op-8"), retained=True)
    assert isinstance(retained, InvalidCommand)
    assert "retained" in retained.reason
