"""The pack as SunSpec points and registers, pure: the encoding of each type (scaling,
saturation, "not implemented"), the values the map gives from real master payloads, and
what it does with a pack that is stale, offline or of another shape."""

from __future__ import annotations

import dataclasses
import math

import pytest

from bms.chemistry import OcvTable
from dbc.frames import Contactors, MasterState
from master.report import PackReport
from master.telemetry.payloads import online_payload
from sunspec.events import Evt1
from sunspec.mapping import ChaSt, Controls, State, Values, point_values
from sunspec.models import BANK, BATTERY, COMMON, STRING, Point, PointType
from sunspec.nameplate import mean_ocv_v, nameplate_of
from sunspec.registers import Layout, encode, finest_scale, scales_of
from tests.sunspec.packs import PACK, entry, report, settings, site

T = PointType
FRESH = {"state": 0.5, "cells": 0.5, "limits": 0.5, "online": 0.5}


NO_CONTROLS = Controls()


def values_of(r: PackReport, ages: dict[str, float] = FRESH, controls: Controls = NO_CONTROLS,
              stale_after_s: float = 5.0) -> Values:
    s = settings()
    return point_values(site(r).packs[PACK], nameplate_of(s, PACK), controls, 7, ages,
                        stale_after_s)


@pytest.mark.parametrize(("point", "value", "sf", "registers"), [
    (Point("x", T.UINT16, sf="S"), 12.344, -2, [1234]),
    (Point("x", T.UINT16, sf="S"), 12.346, -2, [1235]),
    (Point("x", T.UINT16, sf="S"), 1e9, -2, [0xFFFE]),  # saturated below "not implemented"
    (Point("x", T.UINT16, sf="S"), -3.0, 0, [0]),
    (Point("x", T.UINT16, sf="S"), None, -2, [0xFFFF]),
    (Point("x", T.UINT16, sf="S"), math.nan, -2, [0xFFFF]),
    (Point("x", T.UINT16, sf="S"), 5.0, None, [0xFFFF]),  # its scale factor not implemented
    (Point("x", T.INT16, sf="S"), -12.5, -1, [0x10000 - 125]),
    (Point("x", T.INT16, sf="S"), -1e9, -1, [0x8001]),
    (Point("x", T.INT16), None, 0, [0x8000]),
    (Point("x", T.INT16), math.inf, 0, [0x8000]),
    (Point("x", T.ENUM16), 3, 0, [3]),
    (Point("x", T.ENUM16), None, 0, [0xFFFF]),
    (Point("x", T.UINT32, size=2), 0x12345678, 0, [0x1234, 0x5678]),
    (Point("x", T.UINT32, size=2), None, 0, [0xFFFF, 0xFFFF]),
    (Point("x", T.BITFIELD32, size=2), (1 << 20) | 1, 0, [0x0010, 0x0001]),
    (Point("x", T.BITFIELD32, size=2), None, 0, [0xFFFF, 0xFFFF]),
    (Point("x", T.PAD), 7, 0, [0]),
    (Point("x", T.STRING, size=3), "pybms", 0, [0x7079, 0x626D, 0x7300]),
    (Point("x", T.STRING, size=2), "truncated", 0, [0x7472, 0x756E]),
    (Point("x", T.STRING, size=2), None, 0, [0, 0]),
])
def test_each_type_is_encoded_scaled_and_not_implemented(
        point: Point, value: float | str | None, sf: int | None, registers: list[int]) -> None:
    assert encode(point, value, {"S": sf}) == registers


def test_a_scale_factor_point_is_its_scale() -> None:
    assert encode(Point("V_SF", T.SUNSSF), None, {"V_SF": -2}) == [0x10000 - 2]
    assert encode(Point("DoD_SF", T.SUNSSF), None, {"DoD_SF": None}) == [0x8000]


@pytest.mark.parametrize(("largest", "limit", "finest", "sf"), [
    (50.0, 32767, -2, -2), (500.0, 32767, -2, -1), (5000.0, 32767, -2, 0),
    (2_000_000.0, 65534, 0, 2), (0.0, 65534, -3, -3)])
def test_the_finest_scale_at_which_the_largest_value_fits(
        largest: float, limit: int, finest: int, sf: int) -> None:
    assert finest_scale(largest, limit, finest) == sf


def test_the_largest_pack_fits_its_scale_factors() -> None:
    big = settings("pack.modules=32", "pack.cells_per_module=18",
                   "pack.cell_capacity_ah=2000")
    nameplate = nameplate_of(big, PACK)
    scales = scales_of(nameplate)
    for name, value, sf in (("WHRtg", nameplate.energy_wh, "WHRtg_SF"),
                            ("V", nameplate.voltage_v_max, "V_SF"),
                            ("A", -nameplate.current_a_max, "A_SF"),
                            ("W", nameplate.voltage_v_max * nameplate.current_a_max, "W_SF")):
        point = BATTERY.point(name)
        raw = encode(point, value, scales)[0]
        limit = 0x7FFF if point.type is T.INT16 else 0xFFFE
        signed = raw - 0x10000 if point.type is T.INT16 and raw & 0x8000 else raw
        assert abs(signed) < limit, name  # not saturated
        assert signed * 10.0 ** scales[sf] == pytest.approx(value, rel=0.01, abs=1.0), name


def test_the_nameplate_is_the_configured_pack() -> None:
    nameplate = nameplate_of(settings(), PACK)
    assert nameplate.capacity_ah == 5.0  # the NMC reference cell
    nominal_v = nameplate.energy_wh / 5.0
    assert nominal_v == pytest.approx(8 * 3.715, abs=0.01)  # 8 cells at their mean OCV
    assert nameplate.charge_w_max == pytest.approx(2 * 5.0 * nominal_v)  # 2 C operating
    assert nameplate.discharge_w_max == pytest.approx(6 * 5.0 * nominal_v)  # 6 C
    assert nameplate.voltage_v_max == pytest.approx(8 * 4.25)  # the maximum safety limit
    assert mean_ocv_v(OcvTable((0.0, 0.5, 1.0), (3.0, 3.5, 3.6))) == pytest.approx(3.4)


def test_the_values_of_a_discharging_pack() -> None:
    v = values_of(report())
    b = v.battery
    assert (b["State"], b["StateVnd"], b["ChaSt"]) == (State.CONNECTED, 3, ChaSt.DISCHARGING)
    assert b["A"] == 12.5
    assert b["W"] == pytest.approx(361.0)
    assert (b["SoC"], b["SoH"], b["V"]) == (58.12, 97.3, 28.87)
    assert (b["CellVMax"], b["CellVMaxMod"], b["CellVMin"], b["CellVMinMod"]) == \
        (3.65, 2, 3.58, 2)  # modules counted from 1
    assert b["CellVAvg"] == pytest.approx(25237 / 7 / 1000)  # the invalid cell left out
    assert (b["AChaMax"], b["ADisChaMax"], b["VMax"], b["VMin"]) == (9.5, 31.25, 33.2, 24.0)
    assert (b["Evt1"], b["LocRemCtl"], b["Hb"], b["SetOp"]) == (0, 1, 1_764_000_000 % 65535, 1)
    assert (v.common["SN"], v.common["DA"], v.common["Opt"]) == (PACK, 7, "NMC 2x4")
    assert (v.bank["ModTmpMax"], v.bank["ModTmpMaxMod"], v.bank["NCellBal"]) == (31.0, 2, 3)
    assert v.strings[0]["StrConSt"] == 0b011
    assert v.string["St"] == 0b11
    first = v.modules[0]
    assert (first["ModCellVMax"], first["ModCellVMaxCell"], first["ModSoC"]) == \
        (3.606, 4, pytest.approx(62.5))
    assert "ModCellTmpMaxCell" not in first  # sensors are not cells


@pytest.mark.parametrize(("state", "expected"), [
    (MasterState.INIT, State.INITIALIZING), (MasterState.STANDBY, State.STANDBY),
    (MasterState.PRECHARGE, State.INITIALIZING), (MasterState.NORMAL, State.CONNECTED),
    (MasterState.CHARGE, State.CONNECTED), (MasterState.ERROR, State.FAULT)])
def test_the_state_of_the_bank(state: MasterState, expected: int) -> None:
    v = values_of(report(state=state))
    assert (v.battery["State"], v.battery["StateVnd"]) == (expected, int(state))
    assert v.strings[0]["StrDisRsn"] == (1 if state is MasterState.ERROR else 0)


OPEN = Contactors()


@pytest.mark.parametrize(("changes", "status"), [
    ({"contactors_feedback": OPEN}, ChaSt.OFF),
    ({"current_a": 3.0}, ChaSt.CHARGING),
    ({"current_a": -3.0}, ChaSt.DISCHARGING),
    ({"current_a": 0.2}, ChaSt.HOLDING),  # within master.charge_detect_a
    ({"current_a": 0.0, "charge_phase": "complete"}, ChaSt.FULL),
    ({"current_a": 0.0, "limits_": {"charge_a": 0.0, "charge_limiter": "cell_voltage"}},
     ChaSt.FULL),
    ({"current_a": 0.0, "limits_": {"charge_a": 0.0, "charge_limiter": "temperature"}},
     ChaSt.HOLDING),
    ({"current_a": 0.0, "limits_": {"discharge_a": 0.0, "discharge_limiter": "soc"}},
     ChaSt.EMPTY),
])
def test_the_charge_status(changes: dict[str, object], status: int) -> None:
    limits = changes.pop("limits_", None)
    r = report(**changes)
    if isinstance(limits, dict):
        r = dataclasses.replace(r, limits=dataclasses.replace(r.limits, **limits))
    assert values_of(r).battery["ChaSt"] == status


def test_a_stale_state_is_unknown_with_no_current_allowed() -> None:
    v = values_of(report(), ages={**FRESH, "state": 6.0, "limits": 6.0}, stale_after_s=5.0)
    b = v.battery
    assert b["Evt1"] == 1 << Evt1.COMMUNICATION_ERROR
    assert (b["State"], b["AChaMax"], b["ADisChaMax"]) == (State.FAULT, 0.0, 0.0)
    assert all(b[k] is None for k in ("SoC", "V", "A", "W", "ChaSt", "StateVnd", "SetOp"))
    assert b["Hb"] == 1_764_000_000 % 65535  # the last one heard: it stands still
    assert b["CellVMax"] == 3.65  # the cells topic is still fresh


def test_a_pack_that_said_it_is_offline_is_disconnected() -> None:
    model = site(report())
    model.apply(f"bms/{PACK}/online", online_payload(False, 0.0))  # its last will
    s = settings()
    v = point_values(model.packs[PACK], nameplate_of(s, PACK), Controls(), 1, FRESH, 5.0)
    assert (v.battery["State"], v.battery["AChaMax"]) == (State.DISCONNECTED, 0.0)
    assert v.battery["Evt1"] == 1 << Evt1.COMMUNICATION_ERROR
    assert v.battery["CellVMax"] is None
    assert v.modules[0] == {"ModNCell": 4}


def test_nothing_heard_yet_is_unknown() -> None:
    s = settings()
    v = point_values(None, nameplate_of(s, PACK), Controls(), 1, {}, 5.0)
    assert (v.battery["State"], v.battery["Hb"], v.battery["SoC"]) == (State.FAULT, None, None)
    assert (v.common["SN"], v.string["NMod"], v.bank["NStr"]) == (PACK, 2, 1)


def test_cells_of_another_shape_are_not_used() -> None:
    r = report(modules=3, cells_per_module=4)  # a payload that does not fit the layout
    v = values_of(dataclasses.replace(r, cells=report().cells))
    assert v.battery["CellVMax"] is None
    assert v.bank["ModTmpMax"] is None
    assert v.battery["SoC"] == 58.12


def test_faults_and_warnings_are_events() -> None:
    v = values_of(report(faults=(entry("cell_overvoltage_msl"),),
                         warnings=(entry("temperature_spread"),)))
    expected = (1 << Evt1.OVER_VOLT_ALARM) | (1 << Evt1.TEMPERATURE_IMBALANCE_WARNING)
    assert v.battery["Evt1"] == v.strings[0]["StrEvt1"] == v.string["Evt1"] == expected
    assert (v.battery["EvtVnd1"], v.battery["EvtVnd2"]) == (1 << 0, 1 << 8)
    assert v.strings[0]["StrConFail"] == 8  # STRING_FAULT


def test_what_the_controller_wrote_reads_back() -> None:
    v = values_of(report(), controls=Controls(enabled=True, ctrl_hb=41, inverter_state=3))
    assert (v.battery["CtrlHb"], v.battery["SetInvState"], v.battery["LocRemCtl"]) == \
        (41, 3, 0)


def test_the_layout_and_the_image() -> None:
    layout = Layout(40000, 2)
    image = layout.image(values_of(report()), scales_of(nameplate_of(settings(), PACK)))
    assert len(image) == layout.length == 2 + 68 + 64 + (28 + 32) + (48 + 2 * 16) + 2
    assert image[:2] == [0x5375, 0x6E53]
    assert image[-2:] == [0xFFFF, 0]
    starts = layout.model_addresses
    for model, length in ((COMMON, 66), (BATTERY, 62), (BANK, 58), (STRING, 78)):
        offset = starts[model.id] - 40000
        assert image[offset:offset + 2] == [model.id, length]
    set_op = next(p for p in layout.points if p.point.name == "SetOp")
    assert layout.at(set_op.address) == set_op
    assert layout.at(set_op.address + 1) is not None
    with pytest.raises(ValueError, match="base address"):
        Layout(40001, 2)
