"""CAN error frames as SocketCAN reports them (linux/can/error.h), classified.

The error class is in the CAN id of an error frame; controller states are in data byte 1.
"""

from __future__ import annotations

import enum

CAN_ERR_FLAG = 0x20000000  # in the id of an error frame, with the error class below it
CAN_ERR_CRTL = 0x00000004  # controller problem, details in data[1]
CAN_ERR_BUSOFF = 0x00000040
CAN_ERR_RESTARTED = 0x00000100
CAN_ERR_CRTL_RX_PASSIVE = 0x10
CAN_ERR_CRTL_TX_PASSIVE = 0x20
CAN_ERR_CRTL_ACTIVE = 0x40


class BusCondition(enum.Enum):
    BUS_OFF = "bus_off"
    ERROR_PASSIVE = "error_passive"
    RECOVERED = "recovered"  # restarted after bus-off, or back to error active
    OTHER = "other"  # an error frame without a state change (a single bit error, ...)


def classify(error_class: int, data: bytes) -> BusCondition:
    if error_class & CAN_ERR_BUSOFF:
        return BusCondition.BUS_OFF
    if error_class & CAN_ERR_RESTARTED:
        return BusCondition.RECOVERED
    if error_class & CAN_ERR_CRTL and len(data) > 1:
        if data[1] & (CAN_ERR_CRTL_RX_PASSIVE | CAN_ERR_CRTL_TX_PASSIVE):
            return BusCondition.ERROR_PASSIVE
        if data[1] & CAN_ERR_CRTL_ACTIVE:
            return BusCondition.RECOVERED
    return BusCondition.OTHER
