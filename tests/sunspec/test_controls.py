"""Writes judged: refused without controls, and with them only the control points of
model 802, each value to its command or kept, whole points, all or nothing."""

from __future__ import annotations

import pytest

from sunspec.controls import Command, Keep, ModbusError, judge_write
from sunspec.registers import Layout

LAYOUT = Layout(40000, 2)


def address(name: str, model: int = 802) -> int:
    return next(p.address for p in LAYOUT.points
                if p.point.name == name and p.model.id == model)


@pytest.mark.parametrize(("point", "value", "verdict"), [
    ("SetOp", 1, [Command("state", {"request": "drive"})]),
    ("SetOp", 2, [Command("state", {"request": "standby"})]),
    ("SetOp", 0, ModbusError.ILLEGAL_VALUE),
    ("SetOp", 3, ModbusError.ILLEGAL_VALUE),
    ("AlmRst", 1, [Command("fault_reset", {})]),
    ("AlmRst", 0, []),
    ("AlmRst", 2, ModbusError.ILLEGAL_VALUE),
    ("SetInvState", 3, [Keep("SetInvState", 3)]),
    ("SetInvState", 4, ModbusError.ILLEGAL_VALUE),
    ("CtrlHb", 17, [Keep("CtrlHb", 17)]),
    ("CtrlHb", 0xFFFF, ModbusError.ILLEGAL_VALUE),
    ("SoCRsvMin", 200, ModbusError.ILLEGAL_ADDRESS),  # writable in the model, not here
    ("SocRsvMax", 900, ModbusError.ILLEGAL_ADDRESS),
    ("V", 100, ModbusError.ILLEGAL_ADDRESS),  # read-only
    ("SoC", 500, ModbusError.ILLEGAL_ADDRESS),
])
def test_each_control_point(point: str, value: int,
                            verdict: ModbusError | list[object]) -> None:
    assert judge_write(LAYOUT, address(point), [value], controls=True) == verdict


def test_without_controls_every_write_is_refused() -> None:
    assert judge_write(LAYOUT, address("SetOp"), [1], controls=False) is \
        ModbusError.ILLEGAL_FUNCTION


@pytest.mark.parametrize(("where", "values"), [
    (address("DA", 1), [3]),  # model 1's device address
    (address("StrSetCon", 803), [1]),
    (address("SetCon", 804), [1]),
    (address("NCyc") + 1, [0]),  # the middle of a point
    (40000, [0]),  # the marker
    (address("SetInvState"), [1, 0]),  # beyond the last control point, into a scale factor
])
def test_other_registers_are_refused(where: int, values: list[int]) -> None:
    assert judge_write(LAYOUT, where, values, controls=True) is ModbusError.ILLEGAL_ADDRESS


def test_a_write_of_several_points_is_all_or_nothing() -> None:
    # SetOp and SetInvState are neighbours
    assert address("SetInvState") == address("SetOp") + 1
    assert judge_write(LAYOUT, address("SetOp"), [1, 2], controls=True) == \
        [Command("state", {"request": "drive"}), Keep("SetInvState", 2)]
    assert judge_write(LAYOUT, address("SetOp"), [1, 9], controls=True) is \
        ModbusError.ILLEGAL_VALUE
    assert judge_write(LAYOUT, address("CtrlHb"), [5, 1], controls=True) == \
        [Keep("CtrlHb", 5), Command("fault_reset", {})]
