"""The register layout of the SunSpec models this server offers, as data: model 1 (common),
802 (battery base), 803 (lithium-ion battery bank) and 804 (lithium-ion string). Each point
in register order with its type, size, scale factor point, units and access, as the SunSpec
information model definitions give them (SunSpec Alliance, `sunspec/models`, the JSON
definitions pysunspec2 1.3.7 ships; docs/sunspec.md#sources). ``ID`` and ``L`` (the model
header) are not listed: every model has them.

tests/sunspec/test_models.py holds these tables to pysunspec2's copies of the definitions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PointType(enum.StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    ENUM16 = "enum16"
    BITFIELD32 = "bitfield32"
    SUNSSF = "sunssf"
    STRING = "string"
    PAD = "pad"


@dataclass(frozen=True)
class Point:
    name: str
    type: PointType
    size: int = 1  # registers
    sf: str | None = None  # the scale factor point
    units: str = ""
    writable: bool = False  # "RW" in the definition (this server takes writes only with controls)
    mandatory: bool = False


@dataclass(frozen=True)
class Group:
    """A repeating group: ``count`` names the point of the model that says how often."""

    name: str
    count: str
    points: tuple[Point, ...]

    @property
    def length(self) -> int:
        return sum(p.size for p in self.points)


@dataclass(frozen=True)
class Model:
    id: int
    name: str
    points: tuple[Point, ...]
    group: Group | None = None

    @property
    def fixed_length(self) -> int:
        return sum(p.size for p in self.points)

    def length(self, repeats: int = 0) -> int:
        """``L``: the registers after the header, with ``repeats`` of the repeating group."""
        return self.fixed_length + (self.group.length * repeats if self.group else 0)

    def point(self, name: str) -> Point:
        for p in (*self.points, *(self.group.points if self.group else ())):
            if p.name == name:
                return p
        raise KeyError(f"model {self.id} has no point {name}")


T = PointType


def _p(name: str, kind: PointType, sf: str | None = None, units: str = "", *,
       rw: bool = False, m: bool = False, size: int = 1) -> Point:
    return Point(name, kind, size, sf, units, rw, m)


def _sf(name: str, m: bool = False) -> Point:
    return Point(name, T.SUNSSF, mandatory=m)


def _u(name: str, sf: str | None = None, units: str = "", m: bool = False) -> Point:
    return _p(name, T.UINT16, sf, units, m=m)


def _i(name: str, sf: str | None = None, units: str = "", m: bool = False) -> Point:
    return _p(name, T.INT16, sf, units, m=m)


def _bits(name: str, m: bool = False) -> Point:
    return _p(name, T.BITFIELD32, m=m, size=2)


COMMON = Model(1, "common", (
    _p("Mn", T.STRING, m=True, size=16),
    _p("Md", T.STRING, m=True, size=16),
    _p("Opt", T.STRING, size=8),
    _p("Vr", T.STRING, size=8),
    _p("SN", T.STRING, m=True, size=16),
    _p("DA", T.UINT16, rw=True),
    _p("Pad", T.PAD),
))

BATTERY = Model(802, "battery", (
    _u("AHRtg", "AHRtg_SF", "Ah", m=True),
    _u("WHRtg", "WHRtg_SF", "Wh", m=True),
    _u("WChaRteMax", "WChaDisChaMax_SF", "W", m=True),
    _u("WDisChaRteMax", "WChaDisChaMax_SF", "W", m=True),
    _u("DisChaRte", "DisChaRte_SF", "%WHRtg"),
    _u("SoCMax", "SoC_SF", "%WHRtg"),
    _u("SoCMin", "SoC_SF", "%WHRtg"),
    _p("SocRsvMax", T.UINT16, "SoC_SF", "%WHRtg", rw=True),
    _p("SoCRsvMin", T.UINT16, "SoC_SF", "%WHRtg", rw=True),
    _u("SoC", "SoC_SF", "%WHRtg", m=True),
    _u("DoD", "DoD_SF", "%"),
    _u("SoH", "SoH_SF", "%"),
    _p("NCyc", T.UINT32, size=2),
    _p("ChaSt", T.ENUM16),
    _p("LocRemCtl", T.ENUM16, m=True),
    _u("Hb"),
    _p("CtrlHb", T.UINT16, rw=True),
    _p("AlmRst", T.UINT16, rw=True, m=True),
    _p("Typ", T.ENUM16, m=True),
    _p("State", T.ENUM16, m=True),
    _p("StateVnd", T.ENUM16),
    _p("WarrDt", T.UINT32, size=2),
    _bits("Evt1", m=True),
    _bits("Evt2", m=True),
    _bits("EvtVnd1", m=True),
    _bits("EvtVnd2", m=True),
    _u("V", "V_SF", "V", m=True),
    _u("VMax", "V_SF", "V"),
    _u("VMin", "V_SF", "V"),
    _u("CellVMax", "CellV_SF", "V"),
    _u("CellVMaxStr"),
    _u("CellVMaxMod"),
    _u("CellVMin", "CellV_SF", "V"),
    _u("CellVMinStr"),
    _u("CellVMinMod"),
    _u("CellVAvg", "CellV_SF", "V"),
    _i("A", "A_SF", "A", m=True),
    _u("AChaMax", "AMax_SF", "A"),
    _u("ADisChaMax", "AMax_SF", "A"),
    _i("W", "W_SF", "W", m=True),
    _p("ReqInvState", T.ENUM16),
    _i("ReqW", "W_SF", "W"),
    _p("SetOp", T.ENUM16, rw=True, m=True),
    _p("SetInvState", T.ENUM16, rw=True, m=True),
    _sf("AHRtg_SF", m=True),
    _sf("WHRtg_SF", m=True),
    _sf("WChaDisChaMax_SF", m=True),
    _sf("DisChaRte_SF"),
    _sf("SoC_SF", m=True),
    _sf("DoD_SF"),
    _sf("SoH_SF"),
    _sf("V_SF", m=True),
    _sf("CellV_SF", m=True),
    _sf("A_SF", m=True),
    _sf("AMax_SF", m=True),
    _sf("W_SF"),
))

BANK = Model(803, "lithium_ion_bank", (
    _u("NStr", m=True),
    _u("NStrCon", m=True),
    _i("ModTmpMax", "ModTmp_SF", "C", m=True),
    _u("ModTmpMaxStr"),
    _u("ModTmpMaxMod"),
    _i("ModTmpMin", "ModTmp_SF", "C", m=True),
    _u("ModTmpMinStr"),
    _u("ModTmpMinMod"),
    _i("ModTmpAvg", "ModTmp_SF", "C"),
    _u("StrVMax", "V_SF", "V"),
    _u("StrVMaxStr"),
    _u("StrVMin", "V_SF", "V"),
    _u("StrVMinStr"),
    _u("StrVAvg", "V_SF", "V"),
    _i("StrAMax", "A_SF", "A"),
    _u("StrAMaxStr"),
    _i("StrAMin", "A_SF", "A"),
    _u("StrAMinStr"),
    _i("StrAAvg", "A_SF", "A"),
    _u("NCellBal"),
    _sf("CellV_SF", m=True),
    _sf("ModTmp_SF", m=True),
    _sf("A_SF", m=True),
    _sf("SoH_SF"),
    _sf("SoC_SF", m=True),
    _sf("V_SF"),
), Group("string", "NStr", (
    _u("StrNMod", m=True),
    _bits("StrSt", m=True),
    _p("StrConFail", T.ENUM16),
    _u("StrSoC", "SoC_SF", "%", m=True),
    _u("StrSoH", "SoH_SF", "%"),
    _i("StrA", "A_SF", "A", m=True),
    _u("StrCellVMax", "CellV_SF", "V", m=True),
    _u("StrCellVMaxMod"),
    _u("StrCellVMin", "CellV_SF", "V", m=True),
    _u("StrCellVMinMod"),
    _u("StrCellVAvg", "CellV_SF", "V", m=True),
    _i("StrModTmpMax", "ModTmp_SF", "C", m=True),
    _u("StrModTmpMaxMod"),
    _i("StrModTmpMin", "ModTmp_SF", "C", m=True),
    _u("StrModTmpMinMod"),
    _i("StrModTmpAvg", "ModTmp_SF", "C", m=True),
    _p("StrDisRsn", T.ENUM16),
    _bits("StrConSt"),
    _bits("StrEvt1", m=True),
    _bits("StrEvt2"),
    _bits("StrEvtVnd1"),
    _bits("StrEvtVnd2"),
    _p("StrSetEna", T.ENUM16, rw=True),
    _p("StrSetCon", T.ENUM16, rw=True),
    _p("Pad1", T.PAD, m=True),
    _p("Pad2", T.PAD, m=True),
)))

STRING = Model(804, "lithium_ion_string", (
    _u("Idx", m=True),
    _u("NMod", m=True),
    _bits("St", m=True),
    _p("ConFail", T.ENUM16),
    _u("NCellBal"),
    _u("SoC", "SoC_SF", "%", m=True),
    _u("DoD", "DoD_SF", "%"),
    _p("NCyc", T.UINT32, size=2),
    _u("SoH", "SoH_SF", "%"),
    _i("A", "A_SF", "A", m=True),
    _u("V", "V_SF", "V"),
    _u("CellVMax", "CellV_SF", "V", m=True),
    _u("CellVMaxMod"),
    _u("CellVMin", "CellV_SF", "V", m=True),
    _u("CellVMinMod"),
    _u("CellVAvg", "CellV_SF", "V", m=True),
    _i("ModTmpMax", "ModTmp_SF", "C", m=True),
    _u("ModTmpMaxMod", m=True),
    _i("ModTmpMin", "ModTmp_SF", "C", m=True),
    _u("ModTmpMinMod", m=True),
    _i("ModTmpAvg", "ModTmp_SF", "C", m=True),
    _p("Pad1", T.PAD, m=True),
    _bits("ConSt"),
    _bits("Evt1", m=True),
    _bits("Evt2"),
    _bits("EvtVnd1"),
    _bits("EvtVnd2"),
    _p("SetEna", T.ENUM16, rw=True),
    _p("SetCon", T.ENUM16, rw=True),
    _sf("SoC_SF", m=True),
    _sf("SoH_SF"),
    _sf("DoD_SF"),
    _sf("A_SF", m=True),
    _sf("V_SF"),
    _sf("CellV_SF", m=True),
    _sf("ModTmp_SF", m=True),
    _p("Pad2", T.PAD, m=True),
    _p("Pad3", T.PAD, m=True),
    _p("Pad4", T.PAD, m=True),
), Group("lithium_ion_string_module", "NMod", (
    _u("ModNCell", m=True),
    _u("ModSoC", "SoC_SF", "%"),
    _u("ModSoH", "SoH_SF", "%"),
    _u("ModCellVMax", "CellV_SF", "V", m=True),
    _u("ModCellVMaxCell"),
    _u("ModCellVMin", "CellV_SF", "V", m=True),
    _u("ModCellVMinCell"),
    _u("ModCellVAvg", "CellV_SF", "V", m=True),
    _i("ModCellTmpMax", "ModTmp_SF", "C", m=True),
    _u("ModCellTmpMaxCell"),
    _i("ModCellTmpMin", "ModTmp_SF", "C", m=True),
    _u("ModCellTmpMinCell"),
    _i("ModCellTmpAvg", "ModTmp_SF", "C", m=True),
    _p("Pad5", T.PAD, m=True),
    _p("Pad6", T.PAD, m=True),
    _p("Pad7", T.PAD, m=True),
)))

MODELS: tuple[Model, ...] = (COMMON, BATTERY, BANK, STRING)
BY_ID = {model.id: model for model in MODELS}
