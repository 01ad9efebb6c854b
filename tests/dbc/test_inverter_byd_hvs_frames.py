"""BYD Battery-Box Premium HVS byte for byte against two independent sources: SunshadeCorp's
can-service (can_byd_sim.py at 7c3af58, frames reverse-engineered from an HVS and a Sungrow
SH10RT) and Battery-Emulator's BYD-CAN.h (dalathegreat/Battery-Emulator at 62532e9)."""

from __future__ import annotations

import pytest

from dbc.codec import CanFrame, inverter_codec
from dbc.frames import Frame
from dbc.inverter_byd_hvs_frames import (
    BydBatteryInfo,
    BydCellInfo,
    BydInverterIdentity,
    BydInverterMeasurements,
    BydLimits,
    BydManufacturer,
    BydStates,
    BydUnknown290,
    BydVersion,
    product_name_frames,
)


def encoded(frame: Frame) -> CanFrame:
    return inverter_codec("byd_hvs").encode(frame)


def decoded(arbitration_id: int, hex_data: str) -> Frame:
    return inverter_codec("byd_hvs").decode(CanFrame(arbitration_id, bytes.fromhex(hex_data)))\
        .frame


# SunshadeCorp can_byd_sim.py: the frames its simulated HVS sends (send_limits, send_states,
# send_battery_info, send_cell_info and the answer to 0x151)
@pytest.mark.parametrize(("frame", "arbitration_id", "hex_data"), [
    (BydLimits(233.6, 160.0, 25.6, 25.6), 0x110, "09 20 06 40 01 00 01 00"),
    (BydStates(97.4, 100.0, 24.3, 25.0), 0x150, "26 0c 27 10 00 f3 00 fa"),
    (BydBatteryInfo(212.1, 0.0, 18.0), 0x1D0, "08 49 00 00 00 b4 03 08"),
    (BydCellInfo(19.0, 18.0), 0x210, "00 be 00 b4 00 00 00 00"),
    (BydVersion(5.1), 0x250, "03 16 00 66 00 33 02 09"),
    (BydUnknown290(), 0x290, "06 37 10 d9 00 00 00 00"),
    (BydManufacturer(), 0x2D0, "00 42 59 44 00 00 00 00"),
])
def test_the_captured_frames(frame: Frame, arbitration_id: int, hex_data: str) -> None:
    out = encoded(frame)
    assert (out.arbitration_id, out.is_extended_id, out.data.hex(" ")) == \
        (arbitration_id, False, hex_data)
    assert decoded(arbitration_id, hex_data.replace(" ", "")) == frame


def test_the_product_name_as_both_sources_send_it() -> None:
    # Battery-Emulator send_initial_data(): 00 'Battery', 01 '-Box Pr', 02 'emium H', 03 'VS'
    assert [encoded(f).data for f in product_name_frames()] == [
        bytes.fromhex("0042617474657279"), bytes.fromhex("012D426F78205072"),
        bytes.fromhex("02656D69756D2048"), bytes.fromhex("0356530000000000")]
    assert {encoded(f).arbitration_id for f in product_name_frames()} == {0x3D0}


def test_battery_emulator_s_version_frame_differs_only_in_the_firmware() -> None:
    # BYD-CAN.h: {FW_MAJOR 0x03, FW_MINOR 0x29, 0x00, 0x66, capacity Wh/100 (2 bytes), 0x02,
    # 0x09}, for a 24 kWh battery 240
    frame = BydVersion(24.0, firmware_minor=0x29)
    assert encoded(frame).data.hex(" ") == "03 29 00 66 00 f0 02 09"


def test_signed_currents_and_temperatures() -> None:
    # 0x1D0 current is signed and positive charges (SunshadeCorp: "positive = charge")
    assert encoded(BydBatteryInfo(212.1, -35.2, -4.5)).data[2:6].hex(" ") == "fe a0 ff d3"
    # SunshadeCorp reads 0x110's currents signed: the DBC range keeps them below 0x8000
    assert encoded(BydLimits(233.6, 160.0, 5000.0, 5000.0)).data[4:8].hex(" ") == \
        "7f ff 7f ff"


def test_the_inverter_s_frames() -> None:
    # 0x151 byte 0 bit 0 asks for the identity (Battery-Emulator `rx_frame.data.u8[0] & 0x01`,
    # SunshadeCorp `message.data[0] == 0x1`)
    assert decoded(0x151, "0100000000000000") == BydInverterIdentity(True, "")
    assert decoded(0x151, "0053554E47524F57") == BydInverterIdentity(False, "SUNGROW")
    # 0x091: voltage 0.1 V (both), current and temperature 0.1 (Battery-Emulator issue 614)
    assert decoded(0x091, "0900FF8501380000") == BydInverterMeasurements(230.4, -12.3, 31.2)
