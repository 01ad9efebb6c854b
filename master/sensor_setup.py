"""Configuring the IVT-S current sensor at start (`[sensor] configure`, docs/PROTOCOLS.md).

The sequence on 0x411: stop the sensor, give every result its trigger mode (cyclic, or off),
period and byte order (big-endian, what dbc/ivt_s.dbc decodes), store the configuration,
start the sensor. Each command waits for its reply on 0x511, which must echo what was asked;
no reply within ``reply_timeout_s``, a reply that differs or a refusal sends the command
again, ``retries`` times at most, and then the setup has failed. Until it is done the master
trusts none of the sensor's results; once it has failed, never (the entry
``current_sensor_setup_failed`` is fatal: the contactors stay open).

Pure: time and replies in, commands out (typed frames: the core encodes and sends them), notes
for the journal; the core asks `state` and observes the outcome through its supervision.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bms.sensor_settings import SensorSettings
from dbc.codec import Codec, pack_codec
from dbc.ivt import (
    IvtCommand,
    IvtCommandRefused,
    IvtModeReply,
    IvtQuantity,
    IvtReply,
    IvtResultConfig,
    IvtResultConfigReply,
    IvtSetMode,
    IvtStore,
    IvtTrigger,
    echo_of,
)


class SetupState(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Step:
    """One command of the sequence and the reply that confirms it."""

    name: str
    command: IvtCommand
    reply: IvtReply
    command_id: int  # byte 0 of the command: what a refusal names


def setup_steps(settings: SensorSettings, codec: Codec | None = None) -> tuple[Step, ...]:
    """The sequence: stop, the eight results in the sensor's order, store, start."""
    codec = codec or pack_codec()
    commands: list[tuple[str, IvtCommand]] = [("stop", IvtSetMode(run=False))]
    for quantity, period_ms in zip(IvtQuantity, settings.periods_ms(), strict=True):
        trigger = IvtTrigger.CYCLIC if period_ms else IvtTrigger.DISABLED
        commands.append((f"result {quantity.value}",
                         IvtResultConfig(quantity, trigger, period_ms, little_endian=False)))
    commands += [("store", IvtStore()), ("start", IvtSetMode(run=True))]
    return tuple(Step(name, command, echo_of(command),
                      command.command_id(codec.layout_of(type(command))))
                 for name, command in commands)


def _confirms(reply: IvtReply, expected: IvtReply) -> bool:
    """The reply echoes the command; the period of a result that is off is not compared
    (the sensor may keep its old one)."""
    if isinstance(reply, IvtResultConfigReply) and isinstance(expected, IvtResultConfigReply) \
            and expected.trigger is IvtTrigger.DISABLED:
        return (reply.quantity, reply.trigger, reply.little_endian, reply.sign_inverted) == \
            (expected.quantity, expected.trigger, expected.little_endian, expected.sign_inverted)
    return reply == expected


def describe(reply: IvtReply) -> str:
    """A reply in a few words, for the journal."""
    if isinstance(reply, IvtResultConfigReply):
        order = "little" if reply.little_endian else "big"
        sign = ", sign inverted" if reply.sign_inverted else ""
        return f"{reply.quantity.value} {reply.trigger.name.lower()} {reply.period_ms} ms " \
               f"{order}-endian{sign}"
    if isinstance(reply, IvtModeReply):
        return "running" if reply.run else "stopped"
    if isinstance(reply, IvtCommandRefused):
        return f"command 0x{reply.refused_id:02X} refused"
    return "stored"


def _answers(reply: IvtReply, step: Step) -> bool:
    """The reply is about this step's command (right or wrong), not a late one of another."""
    if isinstance(reply, IvtCommandRefused):
        return reply.refused_id == step.command_id
    if type(reply) is not type(step.reply):
        return False
    if isinstance(reply, IvtResultConfigReply) and isinstance(step.reply, IvtResultConfigReply):
        return reply.quantity is step.reply.quantity
    return True


class SensorSetup:
    """The configurator: one command in flight at a time, each confirmed by its reply."""

    def __init__(self, settings: SensorSettings, now_s: float,
                 codec: Codec | None = None) -> None:
        self.settings = settings
        self.steps = setup_steps(settings, codec)
        self.state = SetupState.RUNNING
        self.failure: str | None = None
        self.notes: list[str] = []  # for the journal: drained by the owner
        self.commands_sent = 0
        self.stale_replies = 0  # replies to no command in flight (late, repeated)
        self.results_ignored = 0  # the sensor's results before it was configured (the core's)
        self._start_s = now_s
        self._index = 0
        self._tries = 0  # sends of the current step
        self._sent_at_s: float | None = None  # None: the current step is due to be sent

    @property
    def step(self) -> Step:
        return self.steps[self._index]

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def poll(self, now_s: float) -> list[IvtCommand]:
        """The command to send now: the next step, or the current one again after its
        timeout; nothing while a reply is awaited, or once done or failed."""
        if self.state is not SetupState.RUNNING:
            return []
        if self._sent_at_s is not None:
            if now_s - self._sent_at_s < self.settings.reply_timeout_s:
                return []
            if not self._retry_or_fail(f"no reply to {self.step.name} within "
                                       f"{self.settings.reply_timeout_s:g} s", now_s):
                return []
        self._tries += 1
        self._sent_at_s = now_s
        self.commands_sent += 1
        return [self.step.command]

    def on_reply(self, reply: IvtReply, now_s: float) -> None:
        """A reply on 0x511: it confirms the command in flight, or is wrong for it (sent
        again), or is about no command in flight (counted, nothing else)."""
        if self.state is not SetupState.RUNNING or self._sent_at_s is None or \
                not _answers(reply, self.step):
            self.stale_replies += 1
            return
        if not _confirms(reply, self.step.reply):
            self._retry_or_fail(f"{self.step.name}: the sensor answered {describe(reply)}, "
                                f"not {describe(self.step.reply)}", now_s)
            return
        self._index += 1
        self._tries = 0
        self._sent_at_s = None
        if self._index == len(self.steps):
            self.state = SetupState.DONE
            self.notes.append(f"current sensor configured: {self.commands_sent} commands in "
                              f"{now_s - self._start_s:.2f} s")

    def _retry_or_fail(self, problem: str, now_s: float) -> bool:
        """After a missing or wrong reply: True, the step is due again; False, the setup
        has failed."""
        self._sent_at_s = None
        tries = self.settings.retries + 1
        if self._tries < tries:
            self.notes.append(f"current sensor: {problem}; sending it again "
                              f"(try {self._tries + 1} of {tries})")
            return True
        self.state = SetupState.FAILED
        self.failure = f"{problem} ({tries} tries)"
        self.notes.append(f"current sensor setup failed after {now_s - self._start_s:.2f} s: "
                          f"{self.failure}")
        return False
