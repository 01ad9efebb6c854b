"""Frame lengths and bus load against the table of docs/PROTOCOLS.md section 1."""

import pytest

from dbc.busload import FrameRate, bus_load, frame_bits, max_frames_per_s


@pytest.mark.parametrize(
    ("data_bytes", "extended", "nominal", "worst"),
    [(8, False, 111, 135), (6, False, 95, 115), (4, False, 79, 95), (8, True, 131, 160)],
)
def test_frame_bits(data_bytes: int, extended: bool, nominal: int, worst: int) -> None:
    assert frame_bits(data_bytes, extended, worst_case=False) == nominal
    assert frame_bits(data_bytes, extended) == worst


@pytest.mark.parametrize(
    ("bitrate", "nominal", "worst"), [(500_000, 4505, 3704), (250_000, 2252, 1852)]
)
def test_saturated_bus_frame_rates(bitrate: int, nominal: int, worst: int) -> None:
    assert round(max_frames_per_s(8, bitrate, worst_case=False)) == nominal
    assert round(max_frames_per_s(8, bitrate)) == worst


def test_bus_load_sums_streams() -> None:
    rates = [FrameRate("a", 8, 1000.0), FrameRate("b", 4, 100.0)]
    assert bus_load(rates, 500_000) == pytest.approx((1000 * 135 + 100 * 95) / 500_000)


def test_more_than_eight_bytes_is_not_classic_can() -> None:
    with pytest.raises(ValueError, match=r"0\.\.8"):
        frame_bits(9)
