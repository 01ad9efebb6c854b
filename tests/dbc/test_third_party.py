"""The inverter (CAN-BMS) and charger protocols byte for byte against the frames of
docs/PROTOCOLS.md (the BYD and Pylontech HV ones: test_inverter_*_frames.py)."""

from dbc.charger_frames import (
    COMMAND_ID,
    STATUS_ID,
    ChargerFlag,
    ElconCommand,
    ElconStatus,
    command_id,
    status_id,
)
from dbc.codec import CanFrame, inverter_codec, vehicle_codec
from dbc.inverter_frames import (
    InverterKeepAlive,
    InverterLimits,
    InverterMeasurements,
    Manufacturer,
    PylonAlarms,
    SmaAlarms,
)


def encoded(frame: object) -> CanFrame:
    return vehicle_codec().encode(frame)  # type: ignore[arg-type]


def inverter(frame: object) -> CanFrame:
    return inverter_codec("can_bms").encode(frame)  # type: ignore[arg-type]


def test_inverter_limits_and_measurements_are_the_captured_frames() -> None:
    limits = inverter(InverterLimits(53.2, 370.0, 370.0, 46.0))
    assert (limits.arbitration_id, limits.data.hex(" ")) == (0x351, "14 02 74 0e 74 0e cc 01")
    measured = inverter(InverterMeasurements(49.86, -27.0, 36.3))
    assert (measured.arbitration_id, measured.data.hex(" ")) == (0x356, "7a 13 f2 fe 6b 01")
    decoded = inverter_codec().decode(CanFrame(0x356, bytes.fromhex("7A13F2FE6B01"))).frame
    assert decoded == InverterMeasurements(49.86, -27.0, 36.3)


def test_alarm_bytes() -> None:
    pylon = inverter(PylonAlarms(frozenset({"HighVoltage", "DischargeOvercurrent",
                                            "ChargeOvercurrent"}), frozenset(), 1))
    # byte 4: one pack in parallel, as Battery-Emulator's PYLON-LV-CAN.h (PACK_NUMBER 0x01)
    assert pylon.data == bytes([0b1000_0010, 0b0000_0001, 0, 0, 1, ord("P"), ord("N")])
    sma = inverter(SmaAlarms(frozenset({"General"}), frozenset({"CellImbalance"})))
    assert sma.data[0] == 0b10_10_10_01  # general active, the other three OK
    assert sma.data[3] == 0b10  # cell imbalance alarm OK
    assert sma.data[7] == 0b01  # cell imbalance warning active
    keep_alive = inverter(InverterKeepAlive())
    assert (keep_alive.arbitration_id, keep_alive.data) == (0x305, bytes(8))


def test_the_manufacturer_is_a_pylontech_s_name_byte_for_byte() -> None:
    # a Pylontech LV battery's 0x35E, captured by setfirelabs.com ("Pylontech CAN reading, CAN
    # replication") and quoted in diyBMSv4ESP32 issue 87 and OpenDTU-OnBattery PR 1213
    assert inverter(Manufacturer("PYLON")).data.hex(" ") == "50 59 4c 4f 4e 20 20 20"
    decoded = inverter_codec().decode(CanFrame(0x35E, bytes.fromhex("50594C4F4E202020"))).frame
    assert decoded == Manufacturer("PYLON")


def test_elcon_frames_and_addresses() -> None:
    command = encoded(ElconCommand(98.0, 16.0, start=True))
    assert command.is_extended_id
    assert (command.arbitration_id, command.data.hex(" ")) == \
        (COMMAND_ID, "03 d4 00 a0 00 00 00 00")
    assert encoded(ElconCommand(98.0, 0.0, start=False)).data[4] == 1
    status = vehicle_codec().decode(CanFrame(STATUS_ID, bytes.fromhex("03CC009F12000000"),
                                             True)).frame
    assert status == ElconStatus(97.2, 15.9, ChargerFlag.OVER_TEMPERATURE
                                 | ChargerFlag.COMMUNICATION_TIMEOUT)  # 0x12: bits 1 and 4
    assert command_id(0xE7) == 0x1806E7F4
    assert status_id(0xE9) == 0x18FF50E9
