"""The balancing executor obeys commands and stops by itself."""

import pytest

from slave.balancing import BalancingExecutor


def test_nothing_before_the_first_command() -> None:
    executor = BalancingExecutor(cells=16, command_timeout_s=3.0, max_cells=16)
    assert executor.active_mask(0.0) == 0
    assert not executor.stale(100.0)


@pytest.mark.parametrize(
    ("now_s", "mask", "stale"),
    [
        (10.0, 0b101, False),  # just received
        (12.9, 0b101, False),  # within duration and timeout
        (13.01, 0, True),  # command older than the timeout: bleeding stops
    ],
)
def test_timeout_stops_a_long_command(now_s: float, mask: int, stale: bool) -> None:
    executor = BalancingExecutor(cells=16, command_timeout_s=3.0, max_cells=16)
    executor.command(0b101, duration_s=60.0, now_s=10.0)
    assert executor.active_mask(now_s) == mask
    assert executor.stale(now_s) is stale


def test_duration_ends_a_short_command() -> None:
    executor = BalancingExecutor(cells=16, command_timeout_s=3.0, max_cells=16)
    executor.command(0b1, duration_s=1.0, now_s=0.0)
    assert executor.active_mask(0.99) == 0b1
    assert executor.active_mask(1.0) == 0


def test_repeated_commands_keep_it_going_and_zero_stops() -> None:
    executor = BalancingExecutor(cells=16, command_timeout_s=3.0, max_cells=16)
    for t in range(0, 10):
        executor.command(0b11, duration_s=5.0, now_s=float(t))
    assert executor.active_mask(11.0) == 0b11
    executor.command(0b11, duration_s=0.0, now_s=11.5)
    assert executor.active_mask(11.5) == 0


def test_bits_beyond_the_module_are_ignored() -> None:
    executor = BalancingExecutor(cells=4, command_timeout_s=3.0, max_cells=4)
    executor.command(0xFF, duration_s=5.0, now_s=0.0)
    assert executor.active_mask(0.0) == 0x0F


def test_stop() -> None:
    executor = BalancingExecutor(cells=4, command_timeout_s=3.0, max_cells=4)
    executor.command(0x3, duration_s=5.0, now_s=0.0)
    executor.stop()
    assert executor.active_mask(0.1) == 0


def test_a_command_beyond_the_cell_limit_is_refused_whole() -> None:
    """A forged BalancingCommand for all 16 cells made a slave bleed them all."""
    executor = BalancingExecutor(cells=16, command_timeout_s=3.0, max_cells=8)
    executor.command(0x00FF, 10.0, 0.0)
    assert executor.active_mask(1.0) == 0x00FF  # eight: within the limit
    executor.command(0xFFFF, 10.0, 2.0)
    assert executor.active_mask(3.0) == 0  # sixteen: nothing bleeds
    assert executor.refused == 1
    executor.command(0x01FF, 10.0, 4.0)  # nine
    assert executor.active_mask(5.0) == 0
    assert executor.refused == 2
