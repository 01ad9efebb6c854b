"""The diagnosis engine: debounced entries per location, driven by observations.

Checks call `observe_limit` (a value against a limit, with hysteresis) or `observe` (a
condition). The table decides what an observation does. Every transition becomes a
`DiagnosisEvent`. Pure: time comes in with each observation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from bms.errors import ConfigError
from bms.settings import DiagnosisOverride
from master.diagnosis.table import DEFAULT_TABLE, DiagId, EntrySpec, Group, Severity
from master.events import DiagnosisChange, DiagnosisEvent, Location


@dataclass
class EntryState:
    counter: int = 0
    active: bool = False
    since_s: float = 0.0
    value: float | None = None
    limit: float | None = None


def build_table(overrides: Mapping[str, DiagnosisOverride]) -> dict[DiagId, EntrySpec]:
    """The default table with the configuration's ``[diagnosis.<entry>]`` overrides."""
    table = dict(DEFAULT_TABLE)
    by_name = {entry.name.lower(): entry for entry in DiagId}
    for name, override in overrides.items():
        entry = by_name.get(name)
        if entry is None:
            raise ConfigError(f"diagnosis.{name}: unknown diagnosis entry "
                              f"(known: {', '.join(sorted(by_name))})")
        changes = {k: v for k, v in dataclasses.asdict(override).items() if v is not None}
        table[entry] = dataclasses.replace(table[entry], **changes)
    return table


class DiagnosisEngine:
    def __init__(self, table: Mapping[DiagId, EntrySpec]) -> None:
        self.table = dict(table)
        self.states: dict[tuple[DiagId, Location], EntryState] = {}
        self.events: list[DiagnosisEvent] = []  # drained by the owner
        # bookkeeping for the fast paths of the checks and the reaction
        self._active_fatal = 0
        self._states_per_module: dict[int | None, int] = {}

    def observe_limit(self, entry: DiagId, location: Location, value: float, limit: float,
                      hysteresis: float, above: bool, now_s: float) -> None:
        """A measurement against a limit; an active entry needs the hysteresis to clear."""
        state = self.states.get((entry, location))
        if state is None:
            if value > limit if above else value < limit:
                self.observe(entry, location, True, now_s, value, limit)
            return  # the common case: nothing to remember
        margin = hysteresis if state.active else 0.0
        violated = value > limit - margin if above else value < limit + margin
        self.observe(entry, location, violated, now_s, value, limit)

    def has_state(self, entry: DiagId, location: Location) -> bool:
        """Whether the entry is active or counting at this location."""
        return (entry, location) in self.states

    def observe(self, entry: DiagId, location: Location, violated: bool, now_s: float,
                value: float | None = None, limit: float | None = None) -> None:
        key = (entry, location)
        state = self.states.get(key)
        if state is None:
            if not violated:
                return  # nothing to remember about a location that was never violated
            state = self.states[key] = EntryState()
            module = location.module
            self._states_per_module[module] = self._states_per_module.get(module, 0) + 1
        spec = self.table[entry]
        if violated:
            state.value, state.limit = value, limit
        if not state.active:
            state.counter = min(state.counter + 1, spec.debounce_set) if violated else \
                max(state.counter - 1, 0)
            if state.counter >= spec.debounce_set:
                state.active, state.since_s, state.counter = True, now_s, spec.debounce_clear
                self._active_fatal += spec.fatal
                self._event(entry, DiagnosisChange.SET, location, state, now_s)
        else:
            state.counter = min(state.counter + 1, spec.debounce_clear) if violated else \
                max(state.counter - 1, 0)
            if state.counter == 0 and not spec.latching:
                state.active, state.since_s = False, now_s
                state.value = value
                self._active_fatal -= spec.fatal
                self._event(entry, DiagnosisChange.CLEARED, location, state, now_s)
        if not state.active and state.counter == 0:
            self._forget(key)

    def _forget(self, key: tuple[DiagId, Location]) -> None:
        del self.states[key]
        module = key[1].module
        self._states_per_module[module] -= 1

    def module_has_state(self, module: int | None) -> bool:
        """Whether any entry is active or counting at this module (or the pack, for None)."""
        return self._states_per_module.get(module, 0) > 0

    def any_module_has_state(self) -> bool:
        """Whether any entry is active or counting at any module (the pack's not counted)."""
        return any(n > 0 for module, n in self._states_per_module.items() if module is not None)

    def _event(self, entry: DiagId, change: DiagnosisChange, location: Location,
               state: EntryState, now_s: float) -> None:
        self.events.append(DiagnosisEvent(now_s, entry, change, self.table[entry].severity,
                                          location, state.value, state.limit))

    # --- queries ------------------------------------------------------------------------

    def active(self, severity: Severity | None = None) -> list[tuple[DiagId, Location, EntryState]]:
        return sorted(
            ((entry, location, state) for (entry, location), state in self.states.items()
             if state.active and (severity is None or self.table[entry].severity is severity)),
            key=lambda item: (item[2].since_s, item[0].value),
        )

    def is_active(self, entry: DiagId, location: Location) -> bool:
        state = self.states.get((entry, location))
        return state is not None and state.active

    def fatal_due(self, now_s: float) -> tuple[DiagId, Location] | None:
        """The first fatal entry whose reaction delay has passed, if any."""
        if not self._active_fatal:
            return None  # the common case, asked after every frame
        for entry, location, state in self.active(Severity.FATAL):
            if now_s - state.since_s >= self.table[entry].reaction_delay_s:
                return entry, location
        return None

    def latched(self) -> list[tuple[DiagId, Location]]:
        return [(e, loc) for e, loc, _ in self.active() if self.table[e].latching]

    def groups(self, severity: Severity) -> frozenset[Group]:
        return frozenset(self.table[e].group for e, _, _ in self.active(severity))

    def restore_latched(self, entry: DiagId, location: Location, now_s: float) -> None:
        """A latched entry from before a restart: active again until a service reset, which
        clears it, as before, only once its condition has gone."""
        if not self.table[entry].latching or self.is_active(entry, location):
            return
        key = (entry, location)
        if key not in self.states:
            self._states_per_module[location.module] = \
                self._states_per_module.get(location.module, 0) + 1
        self.states[key] = EntryState(counter=0, active=True, since_s=now_s)
        self._active_fatal += self.table[entry].fatal

    def service_reset(self, now_s: float) -> None:
        """Clear latched entries whose condition has gone (the counter is back at zero)."""
        for (entry, location), state in list(self.states.items()):
            if state.active and self.table[entry].latching and state.counter == 0:
                state.active = False
                self._active_fatal -= self.table[entry].fatal
                self._event(entry, DiagnosisChange.RESET, location, state, now_s)
                self._forget((entry, location))
