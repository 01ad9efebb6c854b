"""Rounding a float to the nearest integer, ties to even: what ``round(x)`` gives.

Compiled by mypyc (`bms.compiled`), the builtin ``round`` is a generic call of about 80 ns;
this is machine arithmetic of about 10 ns. It is on the path of every measured value: the
simulated AFE's quantisation, the slave's cell voltages in mV, the array encoders.
"""

from __future__ import annotations

from typing import Final

HALF: Final = 0.5


def round_half_even(x: float) -> int:
    """``round(x)`` for a float (or an int within 2**53): the same integer, the same errors
    (OverflowError for an infinity, ValueError for NaN)."""
    floor = int(x)  # toward zero (the errors of round), then down to the floor
    if floor > x:
        floor -= 1
    fraction = x - floor  # exact: x and its floor are within one unit of each other
    if fraction > HALF or (fraction == HALF and floor & 1):
        return floor + 1
    return floor
