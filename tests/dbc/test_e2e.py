"""E2E profile 1: the captured vehicle vector and every receiver check state."""

import pytest

from dbc.e2e import (
    COUNTER_MODULO,
    AliveCounters,
    E2EChecker,
    E2EStatus,
    compute_crc,
    protect,
    read_counter,
)

DATA_ID = 0x00A6


@pytest.mark.parametrize(("counter", "crc"), [(0, 0x57), (1, 0x0A)])
def test_captured_vehicle_vector(counter: int, crc: int) -> None:
    frame = bytearray.fromhex("0000 00C0 F0C1 FFFF")
    protect(frame, DATA_ID, counter)
    assert frame[0] == crc
    assert read_counter(frame) == counter
    assert frame[1] == counter
    assert frame[2:] == bytes.fromhex("00 C0 F0 C1 FF FF")  # data untouched


def test_protect_keeps_high_nibble_of_byte_one() -> None:
    frame = bytearray(8)
    frame[1] = 0xA0
    protect(frame, 0x620, 7)
    assert frame[1] == 0xA7
    assert frame[0] == compute_crc(0x620, frame)


def test_protect_refuses_invalid_counter() -> None:
    with pytest.raises(ValueError, match="alive counter"):
        protect(bytearray(8), 0x620, 15)


def sequence(counters: list[int], data_id: int = 0x620) -> list[bytes]:
    frames = []
    for counter in counters:
        frame = bytearray(8)
        frame[2] = 0x42
        protect(frame, data_id, counter)
        frames.append(bytes(frame))
    return frames


def statuses(counters: list[int], max_lost: int = 2) -> list[E2EStatus]:
    checker = E2EChecker(0x620, max_lost)
    return [checker.check(frame) for frame in sequence(counters)]


@pytest.mark.parametrize(
    ("counters", "expected"),
    [
        ([0, 1, 2], [E2EStatus.INITIAL, E2EStatus.OK, E2EStatus.OK]),
        ([13, 14, 0, 1], [E2EStatus.INITIAL, E2EStatus.OK, E2EStatus.OK, E2EStatus.OK]),
        ([3, 3], [E2EStatus.INITIAL, E2EStatus.REPEATED]),
        ([3, 5], [E2EStatus.INITIAL, E2EStatus.OK_SOME_LOST]),  # one lost
        ([3, 6], [E2EStatus.INITIAL, E2EStatus.OK_SOME_LOST]),  # two lost: the limit
        ([3, 7], [E2EStatus.INITIAL, E2EStatus.WRONG_SEQUENCE]),  # three lost
        ([3, 7, 8], [E2EStatus.INITIAL, E2EStatus.WRONG_SEQUENCE, E2EStatus.OK]),  # resync
        ([14, 2], [E2EStatus.INITIAL, E2EStatus.OK_SOME_LOST]),  # gap across the wrap
        ([5, 4], [E2EStatus.INITIAL, E2EStatus.WRONG_SEQUENCE]),  # going backwards
    ],
)
def test_counter_classification(counters: list[int], expected: list[E2EStatus]) -> None:
    assert statuses(counters) == expected


def test_lost_frames_are_counted() -> None:
    checker = E2EChecker(0x620, 2)
    for frame in sequence([0, 2, 5]):
        checker.check(frame)
    assert checker.statistics.lost_frames == 1 + 2
    assert checker.statistics.counts[E2EStatus.OK_SOME_LOST] == 2


def test_tolerance_zero_makes_any_gap_wrong_sequence() -> None:
    assert statuses([0, 2], max_lost=0)[1] is E2EStatus.WRONG_SEQUENCE


@pytest.mark.parametrize("byte", range(8))
def test_any_corrupted_byte_is_an_error(byte: int) -> None:
    checker = E2EChecker(0x620, 2)
    good, nxt = sequence([0, 1])
    checker.check(good)
    corrupted = bytearray(nxt)
    corrupted[byte] ^= 0x10
    assert checker.check(bytes(corrupted)) is E2EStatus.ERROR
    assert checker.statistics.errors == 1


def test_wrong_data_id_is_an_error() -> None:
    (frame,) = sequence([0], data_id=0x621)
    assert E2EChecker(0x620, 2).check(frame) is E2EStatus.ERROR


def test_counter_fifteen_is_an_error_even_with_a_valid_crc() -> None:
    frame = bytearray(8)
    frame[1] = 0x0F
    frame[0] = compute_crc(0x620, frame)
    assert E2EChecker(0x620, 2).check(bytes(frame)) is E2EStatus.ERROR


def test_short_frame_is_an_error() -> None:
    assert E2EChecker(0x620, 2).check(b"\x00") is E2EStatus.ERROR


def test_error_does_not_move_the_reference_counter() -> None:
    checker = E2EChecker(0x620, 2)
    first, second = sequence([0, 1])
    checker.check(first)
    checker.check(b"\x00" * 8)
    assert checker.check(second) is E2EStatus.OK


def test_no_new_data_when_polled_without_a_frame() -> None:
    checker = E2EChecker(0x620, 2)
    assert checker.poll() is E2EStatus.NO_NEW_DATA
    checker.check(sequence([0])[0])
    assert checker.poll() is None
    assert checker.poll() is E2EStatus.NO_NEW_DATA
    assert checker.statistics.counts[E2EStatus.NO_NEW_DATA] == 2


def test_alive_counters_wrap_and_are_independent() -> None:
    counters = AliveCounters()
    taken = [counters.take(0x620, 1) for _ in range(COUNTER_MODULO + 1)]
    assert taken == [*range(COUNTER_MODULO), 0]
    assert counters.take(0x620, 2) == 0
    assert counters.take(0x640, 1) == 0


def test_accepted_and_error_partition() -> None:
    accepted = {s for s in E2EStatus if s.accepted}
    errors = {s for s in E2EStatus if s.is_error}
    assert accepted == {E2EStatus.INITIAL, E2EStatus.OK, E2EStatus.OK_SOME_LOST}
    assert errors == {E2EStatus.REPEATED, E2EStatus.WRONG_SEQUENCE, E2EStatus.ERROR}


def test_alive_counters_keep_data_ids_and_instances_apart() -> None:
    counters = AliveCounters()
    for _ in range(3):
        counters.take(0x620, 1)
    assert counters.take(0x621, 0) == 0  # not 0x620's instance 1 nor any other's
    assert counters.take(0x620, 0xFFFF) == 0
    assert counters.take(0x620, 1) == 3
    with pytest.raises(ValueError, match="instance"):
        counters.take(0x620, 0x10000)
    with pytest.raises(ValueError, match="instance"):
        counters.take(0x620, -1)
