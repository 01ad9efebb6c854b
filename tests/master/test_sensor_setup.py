"""The IVT-S configurator, pure: the sequence, a missing reply, a wrong reply, a refusal,
retries; and the master's core around it (results not trusted until it is done)."""

from __future__ import annotations

import pytest

from bms.sensor_settings import SensorSettings
from bms.settings import load_settings
from dbc.codec import CanFrame, pack_codec
from dbc.ivt import (
    IvtCommandRefused,
    IvtCurrent,
    IvtFlag,
    IvtModeReply,
    IvtQuantity,
    IvtResultConfig,
    IvtResultConfigReply,
    IvtSetMode,
    IvtStore,
    IvtStoreReply,
    IvtTrigger,
    echo_of,
)
from master.core import MasterCore
from master.diagnosis.table import DiagId
from master.events import PACK
from master.sensor_setup import SensorSetup, SetupState, setup_steps

SETTINGS = SensorSettings(configure=True, reply_timeout_s=0.5, retries=2)
CYCLIC = IvtTrigger.CYCLIC


def run_to_done(setup: SensorSetup, now_s: float = 0.0) -> float:
    """Answer every command (the one in flight first) as a sensor that takes it, 10 ms
    later; the time it ends at."""
    while setup.state is SetupState.RUNNING:
        setup.poll(now_s)
        now_s = round(now_s + 0.01, 9)
        setup.on_reply(echo_of(setup.step.command), now_s)
    return now_s


def test_the_sequence_is_stop_every_result_store_start() -> None:
    commands = [step.command for step in setup_steps(SETTINGS)]
    assert commands == [
        IvtSetMode(run=False, run_at_startup=True),
        IvtResultConfig(IvtQuantity.I, CYCLIC, 10),
        *[IvtResultConfig(q, CYCLIC, 100) for q in list(IvtQuantity)[1:]],
        IvtStore(),
        IvtSetMode(run=True, run_at_startup=True),
    ]
    assert all(not c.little_endian for c in commands if isinstance(c, IvtResultConfig))
    assert [step.command_id for step in setup_steps(SETTINGS)] == \
        [0x34, *range(0x20, 0x28), 0x32, 0x34]


def test_a_result_with_no_period_is_switched_off() -> None:
    steps = setup_steps(SensorSettings(configure=True, u3_period_ms=0))
    (u3,) = [s.command for s in steps
             if isinstance(s.command, IvtResultConfig) and s.command.quantity is IvtQuantity.U3]
    assert u3 == IvtResultConfig(IvtQuantity.U3, IvtTrigger.DISABLED, 0)


def test_success_one_command_at_a_time() -> None:
    setup = SensorSetup(SETTINGS, 0.0)
    (first,) = setup.poll(0.0)
    assert first == IvtSetMode(run=False)
    assert setup.poll(0.1) == []  # waiting for the reply
    setup.on_reply(IvtModeReply(run=False), 0.1)
    assert setup.poll(0.1) == [IvtResultConfig(IvtQuantity.I, CYCLIC, 10)]
    assert run_to_done(setup, 0.1) == pytest.approx(0.2)
    assert setup.state is SetupState.DONE
    assert setup.failure is None
    assert setup.poll(5.0) == []
    assert setup.take_notes() == ["current sensor configured: 11 commands in 0.20 s"]


def test_a_missing_reply_is_sent_again_after_the_timeout_then_fails() -> None:
    setup = SensorSetup(SETTINGS, 0.0)
    assert setup.poll(0.0) == [IvtSetMode(run=False)]
    assert setup.poll(0.49) == []
    assert setup.poll(0.5) == [IvtSetMode(run=False)]  # try 2
    assert setup.poll(1.0) == [IvtSetMode(run=False)]  # try 3 (retries = 2)
    assert setup.state is SetupState.RUNNING
    assert setup.poll(1.5) == []
    assert setup.state is SetupState.FAILED
    assert setup.failure == "no reply to stop within 0.5 s (3 tries)"
    assert setup.commands_sent == 3
    notes = setup.take_notes()
    assert notes[0] == "current sensor: no reply to stop within 0.5 s; sending it again " \
                       "(try 2 of 3)"
    assert notes[-1].startswith("current sensor setup failed after 1.50 s")
    setup.on_reply(IvtModeReply(run=False), 1.6)  # too late: it stays failed
    assert setup.state is SetupState.FAILED


def test_a_retry_that_is_answered_goes_on() -> None:
    setup = SensorSetup(SETTINGS, 0.0)
    setup.poll(0.0)
    (again,) = setup.poll(0.5)
    setup.on_reply(echo_of(again), 0.52)
    run_to_done(setup, 0.6)
    assert setup.state is SetupState.DONE
    assert setup.commands_sent == 12


@pytest.mark.parametrize(("wrong", "problem"), [
    # a sensor that stays little-endian
    (IvtResultConfigReply(IvtQuantity.I, CYCLIC, 10, little_endian=True),
     "result I: the sensor answered I cyclic 10 ms little-endian, not I cyclic 10 ms "
     "big-endian"),
    (IvtResultConfigReply(IvtQuantity.I, CYCLIC, 100), "result I: the sensor answered I "
     "cyclic 100 ms big-endian, not I cyclic 10 ms big-endian"),
    (IvtCommandRefused(0x20), "result I: the sensor answered command 0x20 refused, not I "
     "cyclic 10 ms big-endian"),
])
def test_a_wrong_reply_is_sent_again_at_once_then_fails(wrong: object, problem: str) -> None:
    setup = SensorSetup(SETTINGS, 0.0)
    setup.poll(0.0)
    setup.on_reply(IvtModeReply(run=False), 0.01)
    for try_ in range(3):
        assert setup.poll(0.02 + try_ / 100) == [IvtResultConfig(IvtQuantity.I, CYCLIC, 10)]
        setup.on_reply(wrong, 0.025 + try_ / 100)  # type: ignore[arg-type]
    assert setup.state is SetupState.FAILED
    assert setup.failure == f"{problem} (3 tries)"


def test_replies_to_no_command_in_flight_are_only_counted() -> None:
    setup = SensorSetup(SETTINGS, 0.0)
    setup.on_reply(IvtModeReply(run=False), 0.0)  # before anything was sent
    setup.poll(0.0)
    setup.on_reply(IvtStoreReply(), 0.01)  # another step's
    setup.on_reply(IvtCommandRefused(0x32), 0.01)  # a refusal of another command
    setup.on_reply(IvtResultConfigReply(IvtQuantity.U1, CYCLIC, 100), 0.01)
    assert setup.stale_replies == 4
    assert setup.state is SetupState.RUNNING
    setup.on_reply(IvtModeReply(run=False), 0.02)  # its own: on to the next step
    assert setup.poll(0.02) == [IvtResultConfig(IvtQuantity.I, CYCLIC, 10)]


def test_the_period_of_a_result_switched_off_is_not_compared() -> None:
    setup = SensorSetup(SensorSettings(configure=True, u3_period_ms=0), 0.0)
    now = 0.0
    while setup.state is SetupState.RUNNING:
        (command,) = setup.poll(now)
        reply = echo_of(command)
        if isinstance(command, IvtResultConfig) and command.quantity is IvtQuantity.U3:
            reply = IvtResultConfigReply(IvtQuantity.U3, IvtTrigger.DISABLED, 100)
        now += 0.01
        setup.on_reply(reply, now)
    assert setup.state is SetupState.DONE


# --- in the master's core -----------------------------------------------------------------

CODEC = pack_codec()


def core(*overrides: str) -> MasterCore:
    return MasterCore(load_settings(None, ["pack.modules=1", *overrides]), 0.0)


def commands_in(frames: list[CanFrame]) -> list[object]:
    return [CODEC.decode(f).frame for f in frames if f.arbitration_id == 0x411]


def current_frame(ma: int, counter: int = 0) -> CanFrame:
    return CODEC.encode(IvtCurrent(counter, IvtFlag.NONE, ma))


def test_without_configure_nothing_is_sent_and_the_current_is_used_at_once() -> None:
    master = core()
    assert master.sensor_setup is None
    assert commands_in(master.tick(0.0).pack) == []
    master.on_pack_frame(current_frame(-1000), 0.01)
    assert master.pack_current_a is not None
    assert master.pack_current_a.value == pytest.approx(-1.0)
    reply = CODEC.encode(IvtModeReply(run=False))
    master.on_pack_frame(reply, 0.02)  # a reply nobody asked for: not routed
    assert master.statistics.frames_ignored == 1


def test_the_core_sends_the_sequence_and_trusts_the_current_only_after_it() -> None:
    master = core("sensor.configure=true")
    now = 0.0
    sent: list[object] = []
    while master.sensor_setup is not None and master.sensor_setup.state is SetupState.RUNNING:
        master.on_pack_frame(current_frame(419_233_791), now)  # a little-endian -1 A
        assert master.pack_current_a is None
        for command in commands_in(master.tick(now).pack):
            sent.append(command)
            master.on_pack_frame(CODEC.encode(echo_of(command)), now + 0.005)  # type: ignore[arg-type]
        now = round(now + 0.01, 9)
        assert now < 1.0
    assert sent == [step.command for step in setup_steps(master.settings.sensor)]
    assert master.sensor_setup is not None
    assert master.sensor_setup.results_ignored > 0
    master.on_pack_frame(current_frame(-1000), now)
    assert master.pack_current_a is not None
    assert master.pack_current_a.value == pytest.approx(-1.0)
    assert not master.engine.has_state(DiagId.CHARGE_OVERCURRENT_MSL, PACK)
    assert commands_in(master.tick(now).pack) == []  # done: nothing more to send
    assert any("current sensor configured" in e.describe() for e in master.statistics.events)


def test_a_failed_setup_is_a_fatal_entry_and_the_current_is_never_trusted() -> None:
    master = core("sensor.configure=true", "sensor.retries=0")
    master.tick(0.0)  # the stop command, never answered
    master.tick(0.6)
    assert master.engine.is_active(DiagId.CURRENT_SENSOR_SETUP_FAILED, PACK)
    master.on_pack_frame(current_frame(-1000), 0.61)
    assert master.pack_current_a is None
