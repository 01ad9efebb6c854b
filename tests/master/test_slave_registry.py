"""Slave links: online, stale and lost by the age of the last valid frame."""

import pytest

from master.slave_registry import LinkState, SlaveRegistry


@pytest.mark.parametrize(
    ("age_s", "state"),
    [(0.0, LinkState.ONLINE), (0.25, LinkState.ONLINE), (0.26, LinkState.STALE),
     (0.35, LinkState.STALE), (0.351, LinkState.LOST), (100.0, LinkState.LOST)],
)
def test_state_by_age(age_s: float, state: LinkState) -> None:
    registry = SlaveRegistry(2, stale_timeout_s=0.25, lost_timeout_s=0.35, now_s=0.0)
    registry.heard(1, now_s=10.0)
    registry.update(10.0 + age_s)
    assert registry.links[1].state is state
    assert registry.links[0].state is LinkState.WAITING  # never heard: not lost, waiting


def test_transitions_are_reported_once_and_recovery_is_seen() -> None:
    registry = SlaveRegistry(1, 0.25, 0.35, now_s=0.0)
    assert registry.heard(0, 0.0) is not None
    assert registry.heard(0, 0.1) is None
    changes = registry.update(0.36) + registry.update(0.37) + registry.update(0.5)
    assert [(c.old, c.new) for c in changes] == [
        (LinkState.ONLINE, LinkState.STALE), (LinkState.STALE, LinkState.LOST)]
    back = registry.heard(0, 1.0)
    assert back is not None
    assert back.new is LinkState.ONLINE


def test_counts_and_masks() -> None:
    registry = SlaveRegistry(4, 0.25, 0.35, now_s=0.0)
    for m in (0, 2, 3):
        registry.heard(m, 0.0)
    registry.heard(0, 0.3)
    registry.update(0.5)
    assert registry.mask(LinkState.ONLINE) == 0b0001
    assert registry.mask(LinkState.LOST) == 0b1100
    assert registry.count(LinkState.WAITING) == 1
    assert not registry.all_online()


def test_timeouts_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="stale timeout < lost timeout"):
        SlaveRegistry(1, 0.5, 0.4, 0.0)


def test_all_online_follows_every_transition() -> None:
    registry = SlaveRegistry(2, 0.25, 0.35, now_s=0.0)
    assert not registry.all_online()  # waiting
    registry.heard(0, 0.0)
    assert not registry.all_online()
    registry.heard(1, 0.1)
    assert registry.all_online()
    registry.update(0.3)  # module 0 stale
    assert not registry.all_online()
    registry.heard(0, 0.3)
    assert registry.all_online()
    registry.update(1.0)  # both lost
    assert not registry.all_online()
    assert registry.count(LinkState.LOST) == 2
    registry.heard(0, 1.0)
    registry.heard(1, 1.0)
    assert registry.all_online()
