"""Which slaves are talking: online, stale or lost, by the age of their last valid frame."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class LinkState(enum.Enum):
    WAITING = "waiting"  # never heard since start
    ONLINE = "online"
    STALE = "stale"  # no valid frame within the stale timeout
    LOST = "lost"  # no valid frame within the lost timeout


_SUMMARY_INDEX = {LinkState.ONLINE: 0, LinkState.STALE: 1, LinkState.LOST: 2}


@dataclass
class ModuleLink:
    state: LinkState = LinkState.WAITING
    last_valid_s: float | None = None
    since_s: float = 0.0
    valid_frames: int = 0


@dataclass(frozen=True)
class LinkChange:
    module_id: int
    old: LinkState
    new: LinkState
    at_s: float


class SlaveRegistry:
    def __init__(self, modules: int, stale_timeout_s: float, lost_timeout_s: float,
                 now_s: float) -> None:
        if not 0 < stale_timeout_s < lost_timeout_s:
            raise ValueError("need 0 < stale timeout < lost timeout")
        self.stale_timeout_s = stale_timeout_s
        self.lost_timeout_s = lost_timeout_s
        self.links = [ModuleLink(since_s=now_s) for _ in range(modules)]
        self._online = 0  # links ONLINE now (asked every control period)

    def heard(self, module_id: int, now_s: float) -> LinkChange | None:
        """A valid frame from the module: it is online from now."""
        link = self.links[module_id]
        link.last_valid_s = now_s
        link.valid_frames += 1
        return self._set(module_id, LinkState.ONLINE, now_s)

    def update(self, now_s: float) -> list[LinkChange]:
        """Age every link; returns the transitions (to STALE or LOST)."""
        changes = []
        for module_id, link in enumerate(self.links):
            if link.last_valid_s is None:
                continue
            age = now_s - link.last_valid_s
            if age > self.lost_timeout_s:
                target = LinkState.LOST
            elif age > self.stale_timeout_s:
                target = LinkState.STALE
            else:
                continue
            change = self._set(module_id, target, now_s)
            if change:
                changes.append(change)
        return changes

    def _set(self, module_id: int, state: LinkState, now_s: float) -> LinkChange | None:
        link = self.links[module_id]
        if link.state is state:
            return None
        change = LinkChange(module_id, link.state, state, now_s)
        self._online += (state is LinkState.ONLINE) - (link.state is LinkState.ONLINE)
        link.state = state
        link.since_s = now_s
        return change

    def count(self, state: LinkState) -> int:
        return sum(1 for link in self.links if link.state is state)

    def mask(self, state: LinkState) -> int:
        return sum(1 << m for m, link in enumerate(self.links) if link.state is state)

    def summary(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(online, stale, lost) counts and masks (bit m: module m), in one pass."""
        counts = [0, 0, 0]
        masks = [0, 0, 0]
        for module, link in enumerate(self.links):
            index = _SUMMARY_INDEX.get(link.state)
            if index is not None:
                counts[index] += 1
                masks[index] |= 1 << module
        return (counts[0], counts[1], counts[2]), (masks[0], masks[1], masks[2])

    def all_online(self) -> bool:
        return self._online == len(self.links)
