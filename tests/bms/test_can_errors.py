"""Error frames classified as SocketCAN reports them."""

import pytest

from bms.can_errors import (
    CAN_ERR_BUSOFF,
    CAN_ERR_CRTL,
    CAN_ERR_CRTL_ACTIVE,
    CAN_ERR_CRTL_RX_PASSIVE,
    CAN_ERR_CRTL_TX_PASSIVE,
    CAN_ERR_RESTARTED,
    BusCondition,
    classify,
)


@pytest.mark.parametrize(
    ("error_class", "data", "condition"),
    [
        (CAN_ERR_BUSOFF, bytes(8), BusCondition.BUS_OFF),
        (CAN_ERR_BUSOFF | CAN_ERR_CRTL, bytes([0, CAN_ERR_CRTL_TX_PASSIVE]), BusCondition.BUS_OFF),
        (CAN_ERR_RESTARTED, bytes(8), BusCondition.RECOVERED),
        (CAN_ERR_CRTL, bytes([0, CAN_ERR_CRTL_RX_PASSIVE]), BusCondition.ERROR_PASSIVE),
        (CAN_ERR_CRTL, bytes([0, CAN_ERR_CRTL_TX_PASSIVE]), BusCondition.ERROR_PASSIVE),
        (CAN_ERR_CRTL, bytes([0, CAN_ERR_CRTL_ACTIVE]), BusCondition.RECOVERED),
        (CAN_ERR_CRTL, b"", BusCondition.OTHER),  # truncated: nothing to read
        (0x00000008, bytes(8), BusCondition.OTHER),  # a protocol violation only
    ],
)
def test_classify(error_class: int, data: bytes, condition: BusCondition) -> None:
    assert classify(error_class, data) is condition
