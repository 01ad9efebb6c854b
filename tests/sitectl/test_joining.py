from __future__ import annotations

from sitectl.joining import Candidate, Steer, first_pack, gap_text, next_pack, steer


def c(name: str, voltage_v: float) -> Candidate:
    return Candidate(name, voltage_v)


def name(candidate: Candidate | None) -> str | None:
    return None if candidate is None else candidate.name


def test_the_first_pack_is_the_one_most_others_can_join() -> None:
    packs = [c("a", 205.0), c("b", 209.0), c("c", 209.5), c("d", 209.7)]
    assert name(first_pack(packs, 0.8)) == "b"  # b, c, d within 0.8 V of b (and of c, d)
    assert name(first_pack([*packs[:3], c("d", 210.2)], 0.8)) == "c"  # b, c, d around c
    assert name(first_pack(packs, 0.8, "lowest")) == "a"
    assert name(first_pack(packs, 0.8, "highest")) == "d"
    assert first_pack([], 0.8) is None


def test_of_equally_joinable_packs_the_lowest_goes_first() -> None:
    assert name(first_pack([c("x", 210.0), c("y", 200.0)], 0.8)) == "y"


def test_only_a_pack_inside_the_window_joins_and_the_nearest_first() -> None:
    packs = [c("a", 208.0), c("b", 209.6), c("c", 210.5)]
    assert name(next_pack(packs, 209.0, 0.8)) == "b"
    assert next_pack(packs, 212.0, 0.8) is None


def test_steering_moves_the_bus_toward_the_nearest_waiting_pack() -> None:
    assert steer([c("a", 205.0), c("b", 211.0)], 209.0) == (Steer.CHARGE, c("b", 211.0))
    assert steer([c("a", 208.0), c("b", 211.0)], 209.0) == (Steer.DISCHARGE, c("a", 208.0))
    assert steer([], 209.0) == (Steer.BOTH, None)


def test_the_reason_names_the_gap_and_the_window() -> None:
    assert gap_text(c("a", 205.0), 209.0, 0.8) == \
        "waits: 205.0 V is 4.00 V below the bus (209.0 V; window 0.8 V)"
