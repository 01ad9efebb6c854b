"""Pylontech HV CAN byte for byte. The frames Battery-Emulator's PYLON-CAN.h starts from
(dalathegreat/Battery-Emulator at 62532e9: little-endian, currents with the 3000 A offset, the
layout of its "invert byte order" and "30k offset" options) decode to a consistent battery;
diyBMSv4ESP32's pylonforce_canbus.cpp (0af053d) and bms-to-inverter's
PylonHVInverterCANProcessor.java (59ac882) write the same layout."""

from __future__ import annotations

import pytest

from dbc.codec import CanFrame, inverter_codec
from dbc.frames import Frame
from dbc.inverter_pylon_hv_frames import (
    PylonHvAlarms,
    PylonHvBasicStatus,
    PylonHvCellTemperatures,
    PylonHvCellVoltages,
    PylonHvForbidden,
    PylonHvLimits,
    PylonHvManufacturer,
    PylonHvModules,
    PylonHvModuleTemperatures,
    PylonHvRequest,
    PylonHvRequestKind,
    PylonHvStatus,
    PylonHvVersion,
)


def encoded(frame: Frame) -> CanFrame:
    return inverter_codec("pylon_hv").encode(frame)


def decoded(arbitration_id: int, hex_data: str) -> Frame:
    return inverter_codec("pylon_hv").decode(
        CanFrame(arbitration_id, bytes.fromhex(hex_data), True)).frame


@pytest.mark.parametrize(("frame", "arbitration_id", "hex_data"), [
    # PYLON_421X: 246.9 V, 0 A (30000), 18.1 degC (1181), SOC 46 %, SOH 100 %
    (PylonHvStatus(246.9, 0.0, 18.1, 46, 100), 0x4210, "a5 09 30 75 9d 04 2e 64"),
    # PYLON_422X: 270.0 V, 202.5 V, 105.0 A, 105.0 A (31050: positive magnitudes)
    (PylonHvLimits(270.0, 202.5, 105.0, 105.0), 0x4220, "8c 0a e9 07 4a 79 4a 79"),
    (PylonHvCellVoltages(3295, 3290, 3, 6), 0x4230, "df 0c da 0c 03 00 06 00"),
    (PylonHvCellTemperatures(15.0, 12.2, 17, 3), 0x4240, "7e 04 62 04 11 00 03 00"),
    (PylonHvModuleTemperatures(15.0, 12.2, 5, 1), 0x4270, "7e 04 62 04 05 00 01 00"),
    (PylonHvAlarms(PylonHvBasicStatus.IDLE, cycle_period=2), 0x4250, "03 02 00 00 00 00 00 00"),
    (PylonHvVersion(1, 2, 1, 1, 2, 0, 0), 0x7310, "01 00 02 01 01 02 00 00"),
    # PYLON_732X with its Force H2 defaults: 120 cells, 4 modules of 30, 384 V, 37 Ah
    (PylonHvModules(120, 4, 30, 384, 37), 0x7320, "78 00 04 1e 80 01 25 00"),
    # PYLON_733X for "Pylon HV": 'P' 'Y' 'L' 'O' 'N', then zeros
    (PylonHvManufacturer("PYLON"), 0x7330, "50 59 4c 4f 4e 00 00 00"),
])
def test_battery_emulator_s_frames(frame: Frame, arbitration_id: int, hex_data: str) -> None:
    out = encoded(frame)
    assert (out.arbitration_id, out.is_extended_id, out.data.hex(" ")) == \
        (arbitration_id, True, hex_data)
    assert decoded(arbitration_id, hex_data.replace(" ", "")) == frame


def test_diybms_scalings() -> None:
    # pylonforce_canbus.cpp: "121+1000; // 12.1 degC" (0.1 degC, offset 100 degC) and the
    # current "100mA (0.1A) resolution with offset 3000A": -12.5 A is 30000 - 125 = 0x74B3
    assert encoded(PylonHvStatus(230.0, -12.5, 12.1, 50, 100)).data.hex(" ") == \
        "fc 08 b3 74 61 04 32 64"


def test_the_forbidden_marks_and_the_flags() -> None:
    # all three sources: 0xAA forbids, anything else allows
    assert encoded(PylonHvForbidden(True, False)).data[:2] == bytes([0xAA, 0x00])
    assert decoded(0x4280, "00AA000000000000") == PylonHvForbidden(False, True)
    # diyBMS's bit fields: status bits 0-2, errors byte 3, alarms bytes 4-5, protections 6-7
    flags = encoded(PylonHvAlarms(PylonHvBasicStatus.CHARGE, frozenset({"Other"}),
                                  frozenset({"CellHighVoltage"}),
                                  frozenset({"DischargeOvercurrent"})))
    assert flags.data.hex(" ") == "01 00 00 80 02 00 00 02"


def test_the_requests() -> None:
    # 0x4200 byte 0: 0 ensemble information (-> 0x421x), 2 system equipment (-> 0x731x)
    assert decoded(0x4200, "0000000000000000") == \
        PylonHvRequest(PylonHvRequestKind.ENSEMBLE_INFORMATION)
    assert decoded(0x4200, "0200000000000000") == \
        PylonHvRequest(PylonHvRequestKind.SYSTEM_EQUIPMENT_INFORMATION)
