"""Our server as a SunSpec client sees it: a live model fed with the master's own payloads,
our Modbus TCP server on a free loopback port, and pysunspec2 (the SunSpec Alliance's
client, its own Modbus code and its own copy of the model definitions) scanning it and
reading every point of models 1, 802, 803 and 804, each checked against the pack's values
written out by hand here (with their scale factors: the values as the client computes
them). Writes: refused without controls, and what they do with them (a recording sender;
the broker's path is tests/sunspec/test_service.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sunspec2.modbus.modbus import ModbusClientException

from dbc.frames import MasterState
from master.telemetry.commands import parse_command
from master.telemetry.payloads import Topics, state_payload
from sunspec.errors import SunSpecError
from sunspec.nameplate import package_version
from sunspec.server import ModbusServer
from sunspec.service import SunSpecService
from tests.sunspec import client
from tests.sunspec.packs import PACK, entry, messages, report, settings

HEARTBEAT = 1_764_000_000 % 65535
NI = None  # "not implemented": pysunspec2 reads it as None

# the pack of tests/sunspec/packs.py: NMC 5 Ah, 2 modules of 4 cells, NORMAL, discharging
# 12.5 A at 28.87 V; the highest cell 3.650 V and the lowest 3.580 V in module 2, one cell
# invalid; the hottest sensor 31.0 degC and the coldest 23.0 degC in module 2
COMMON = {"ID": 1, "L": 66, "Mn": "pybms", "Md": "pybms distributed BMS", "Opt": "NMC 2x4",
          "Vr": package_version(), "SN": PACK, "DA": 1, "Pad": 0}
BATTERY = {
    "ID": 802, "L": 62,
    "AHRtg": 5.0,  # the NMC reference cell
    "WHRtg": 149,  # 5 Ah x 8 cells x 3.715 V (the mean of the NMC OCV table)
    "WChaRteMax": 297,  # 2 C (the operating charge limit) x 29.72 V
    "WDisChaRteMax": 892,  # 6 C
    "DisChaRte": NI, "SoCMax": NI, "SoCMin": NI, "SocRsvMax": NI, "SoCRsvMin": NI,
    "SoC": 58.1, "DoD": NI, "SoH": 97.3, "NCyc": NI,
    "ChaSt": 3,  # DISCHARGING
    "LocRemCtl": 1,  # LOCAL: no controls
    "Hb": HEARTBEAT, "CtrlHb": NI, "AlmRst": 0,
    "Typ": 4,  # LITHIUM_ION
    "State": 3,  # CONNECTED
    "StateVnd": 3,  # MasterState.NORMAL
    "WarrDt": NI, "Evt1": 0, "Evt2": 0, "EvtVnd1": 0, "EvtVnd2": 0,
    "V": 28.87, "VMax": 33.2, "VMin": 24.0,
    "CellVMax": 3.65, "CellVMaxStr": 1, "CellVMaxMod": 2,
    "CellVMin": 3.58, "CellVMinStr": 1, "CellVMinMod": 2,
    "CellVAvg": 3.605,  # the seven valid cells
    "A": 12.5, "AChaMax": 9.5, "ADisChaMax": 31.25,
    "W": 361,  # the master's 0.361 kW, discharging: positive
    "ReqInvState": 0, "ReqW": NI,
    "SetOp": 1,  # CONNECT: the contactors are closed
    "SetInvState": NI,
    "AHRtg_SF": -2, "WHRtg_SF": 0, "WChaDisChaMax_SF": 0, "DisChaRte_SF": NI, "SoC_SF": -1,
    "DoD_SF": NI, "SoH_SF": -1, "V_SF": -2, "CellV_SF": -3, "A_SF": -2, "AMax_SF": -2,
    "W_SF": 0,
}
TEMPERATURES = {"ModTmpMax": 31.0, "ModTmpMaxMod": 2, "ModTmpMin": 23.0, "ModTmpMinMod": 2,
                "ModTmpAvg": 25.9}  # (24.5 + 26.2 + 25.0 + 23.0 + 31.0) / 5
BANK = {
    "ID": 803, "L": 58, "NStr": 1, "NStrCon": 1,
    **TEMPERATURES, "ModTmpMaxStr": 1, "ModTmpMinStr": 1,
    "StrVMax": 28.87, "StrVMaxStr": 1, "StrVMin": 28.87, "StrVMinStr": 1, "StrVAvg": 28.87,
    "StrAMax": 12.5, "StrAMaxStr": 1, "StrAMin": 12.5, "StrAMinStr": 1, "StrAAvg": 12.5,
    "NCellBal": 3,  # masks 0b0101 and 0b0010
    "CellV_SF": -3, "ModTmp_SF": -1, "A_SF": -2, "SoH_SF": -1, "SoC_SF": -1, "V_SF": -2,
}
BANK_STRING = {
    "StrNMod": 2, "StrSt": 3,  # STRING_ENABLED, CONTACTOR_STATUS
    "StrConFail": 0, "StrSoC": 58.1, "StrSoH": 97.3, "StrA": 12.5,
    "StrCellVMax": 3.65, "StrCellVMaxMod": 2, "StrCellVMin": 3.58, "StrCellVMinMod": 2,
    "StrCellVAvg": 3.605,
    **{f"Str{k}": v for k, v in TEMPERATURES.items()},
    "StrDisRsn": 0, "StrConSt": 3,  # main plus and main minus closed
    "StrEvt1": 0, "StrEvt2": 0, "StrEvtVnd1": 0, "StrEvtVnd2": 0,
    "StrSetEna": NI, "StrSetCon": NI, "Pad1": 0, "Pad2": 0,
}
STRING = {
    "ID": 804, "L": 46 + 2 * 16, "Idx": 1, "NMod": 2, "St": 3, "ConFail": 0, "NCellBal": 3,
    "SoC": 58.1, "DoD": NI, "NCyc": NI, "SoH": 97.3, "A": 12.5, "V": 28.87,
    "CellVMax": 3.65, "CellVMaxMod": 2, "CellVMin": 3.58, "CellVMinMod": 2,
    "CellVAvg": 3.605, **TEMPERATURES, "Pad1": 0, "ConSt": 3,
    "Evt1": 0, "Evt2": 0, "EvtVnd1": 0, "EvtVnd2": 0, "SetEna": NI, "SetCon": NI,
    "SoC_SF": -1, "SoH_SF": -1, "DoD_SF": NI, "A_SF": -2, "V_SF": -2, "CellV_SF": -3,
    "ModTmp_SF": -1, "Pad2": 0, "Pad3": 0, "Pad4": 0,
}
NO_CELL = {"ModSoH": NI, "ModCellTmpMaxCell": NI, "ModCellTmpMinCell": NI,
           "Pad5": 0, "Pad6": 0, "Pad7": 0}
MODULES = [
    {"ModNCell": 4, "ModSoC": 62.5, "ModCellVMax": 3.606, "ModCellVMaxCell": 4,
     "ModCellVMin": 3.601, "ModCellVMinCell": 1, "ModCellVAvg": 3.603,
     "ModCellTmpMax": 26.2, "ModCellTmpMin": 24.5, "ModCellTmpAvg": 25.2, **NO_CELL},
    {"ModNCell": 4, "ModSoC": 62.5, "ModCellVMax": 3.65, "ModCellVMaxCell": 2,
     "ModCellVMin": 3.58, "ModCellVMinCell": 4, "ModCellVAvg": 3.608,
     "ModCellTmpMax": 31.0, "ModCellTmpMin": 23.0, "ModCellTmpAvg": 27.0, **NO_CELL},
]


def service(*overrides: str, **kwargs: Any) -> SunSpecService:
    s = SunSpecService(settings(*overrides), **kwargs)
    for topic, payload in messages(report()):
        s.on_message(topic, payload)
    return s


@contextlib.asynccontextmanager
async def serving(s: SunSpecService) -> AsyncIterator[int]:
    layout = s.layout
    async with ModbusServer(s, layout.base, layout.length, "127.0.0.1", 0,
                            s.settings.sunspec.unit_id) as server:
        yield server.port


def assert_points(found: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    assert set(found) == set(expected), where  # every point of the definition, no other
    wrong = {name: (found[name], value) for name, value in expected.items()
             if not (found[name] == value if value is None or isinstance(value, str)
                     else found[name] == pytest.approx(value, abs=1e-9))}
    assert wrong == {}, f"{where}: (read, expected)"


async def test_pysunspec2_reads_every_point_as_the_pack_has_it() -> None:
    async with serving(service()) as port:
        found = await asyncio.to_thread(client.scan, port)
    assert found["base"] == 40000
    assert sorted(k for k in found if isinstance(k, int)) == [1, 802, 803, 804]
    assert all(found[m]["error"] == "" for m in (1, 802, 803, 804))
    assert_points(found[1]["points"], COMMON, "model 1")
    assert_points(found[802]["points"], BATTERY, "model 802")
    assert_points(found[803]["points"], BANK, "model 803")
    [string] = found[803]["groups"]["string"]
    assert_points(string, BANK_STRING, "model 803 string 1")
    assert_points(found[804]["points"], STRING, "model 804")
    modules = found[804]["groups"]["lithium_ion_string_module"]
    assert len(modules) == 2
    for i, (module, expected) in enumerate(zip(modules, MODULES, strict=True)):
        assert_points(module, expected, f"model 804 module {i + 1}")


async def test_a_fault_reads_as_its_alarm_and_another_base_address_and_unit_are_found(
        ) -> None:
    s = service("sunspec.base_address=50000", "sunspec.unit_id=3")
    faulty = report(state=MasterState.ERROR, faults=(entry("charge_overtemperature_msl"),),
                    warnings=(entry("cell_voltage_spread"),))
    s.on_message(Topics("bms", PACK).state, state_payload(faulty, 1_764_000_001.0))
    async with serving(s) as port:
        found = await asyncio.to_thread(client.scan, port, 3)
        with pytest.raises(Exception, match="exception 11"):  # another unit id: no device
            await asyncio.to_thread(client.scan, port, 1)
    assert found["base"] == 50000
    battery = found[802]["points"]
    assert (battery["State"], battery["StateVnd"]) == (99, 5)  # FAULT, ERROR
    assert battery["Evt1"] == (1 << 1) | (1 << 17)  # OVER_TEMP_ALARM, VOLTAGE_IMBALANCE
    assert battery["EvtVnd1"] == 1 << 1
    assert battery["EvtVnd2"] == 1 << 8
    assert found[803]["groups"]["string"][0]["StrDisRsn"] == 1  # FAULT
    assert found[804]["points"]["St"] == 0b10  # closed, not enabled


async def test_without_controls_every_write_is_refused() -> None:
    sent: list[bytes] = []

    async def send(payload: bytes) -> None:
        sent.append(payload)

    s = service(send=send)
    async with serving(s) as port:
        for model, point, value in ((802, "SetOp", 1), (802, "AlmRst", 1), (802, "SoC", 5),
                                    (1, "DA", 2)):
            with pytest.raises(ModbusClientException, match=r"exception: 1$"):
                await asyncio.to_thread(client.write, port, model, point, value)
    assert sent == []
    assert s.stats.refused == 4


async def test_with_controls_the_writes_are_commands_and_kept_values() -> None:
    sent: list[bytes] = []

    async def send(payload: bytes) -> None:
        sent.append(payload)

    s = service("sunspec.controls=true", send=send)
    async with serving(s) as port:
        await asyncio.to_thread(client.write, port, 802, "SetOp", 1)
        await asyncio.to_thread(client.write, port, 802, "AlmRst", 1)
        await asyncio.to_thread(client.write, port, 802, "SetInvState", 2)
        await asyncio.to_thread(client.write, port, 802, "CtrlHb", 99)
        for model, point, value, code, group in (
                (802, "SoCRsvMin", 100, 2, None), (802, "V", 1, 2, None),
                (802, "SetOp", 7, 3, None), (803, "StrSetCon", 1, 2, "string"),
                (804, "SetCon", 1, 2, None)):
            with pytest.raises(ModbusClientException, match=rf"exception: {code}$"):
                await asyncio.to_thread(client.write, port, model, point, value, group)
        found = await asyncio.to_thread(client.scan, port)
    commands = [parse_command(p) for p in sent]
    assert [(c.name, c.arguments) for c in commands] == [
        ("state", {"request": "drive"}), ("fault_reset", {})]
    assert all(c.id is not None and c.id.startswith("sunspec-") for c in commands)
    battery = found[802]["points"]
    assert (battery["SetInvState"], battery["CtrlHb"], battery["AlmRst"],
            battery["LocRemCtl"]) == (2, 99, 0, 0)


async def test_a_command_that_cannot_be_sent_is_a_device_failure() -> None:
    async def send(payload: bytes) -> None:
        raise OSError("the broker is away")

    s = service("sunspec.controls=true", send=send)
    async with serving(s) as port:
        with pytest.raises(ModbusClientException, match=r"exception: 4$"):
            await asyncio.to_thread(client.write, port, 802, "SetOp", 2)
    assert s.stats.command_failures == 1


async def test_a_taken_port_is_a_clear_error() -> None:
    s = service()
    async with serving(s) as port:
        with pytest.raises(SunSpecError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with ModbusServer(s, s.layout.base, s.layout.length, "127.0.0.1", port, 1):
                pass
