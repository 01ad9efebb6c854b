"""OCV tables equal docs/PROTOCOLS.md section 7 and invert correctly."""

import pytest

from bms.chemistry import LFP_OCV, NMC_OCV, REFERENCE_CELLS
from bms.settings import Chemistry

TABLE = [  # SOC %, NMC V, LFP V
    (0, 2.5000, 2.0000), (5, 3.1094, 2.7853), (10, 3.2959, 2.9781), (20, 3.4852, 3.1685),
    (30, 3.5814, 3.2058), (40, 3.6670, 3.2525), (50, 3.7509, 3.2660), (60, 3.8406, 3.2688),
    (70, 3.9479, 3.2740), (80, 4.0421, 3.3097), (90, 4.0967, 3.3142), (95, 4.1236, 3.3164),
    (100, 4.2000, 3.6000),
]


@pytest.mark.parametrize(("soc_pct", "nmc_v", "lfp_v"), TABLE)
def test_ocv_points(soc_pct: int, nmc_v: float, lfp_v: float) -> None:
    assert NMC_OCV.voltage(soc_pct / 100) == pytest.approx(nmc_v)
    assert LFP_OCV.voltage(soc_pct / 100) == pytest.approx(lfp_v)
    assert NMC_OCV.soc_at(nmc_v) == pytest.approx(soc_pct / 100)


def test_interpolation_and_extrapolation() -> None:
    assert NMC_OCV.voltage(0.45) == pytest.approx((3.6670 + 3.7509) / 2)
    assert NMC_OCV.voltage(1.02) > 4.2  # an overcharged cell keeps rising
    assert NMC_OCV.soc_at(5.0) == 1.0
    assert NMC_OCV.soc_at(1.0) == 0.0


def test_lfp_plateau_is_flat() -> None:
    # about 1.7 mV per % SOC between 30 and 70 %
    slope_mv_per_pct = (LFP_OCV.voltage(0.7) - LFP_OCV.voltage(0.3)) * 1000 / 40
    assert 1.0 < slope_mv_per_pct < 2.0


def test_reference_cells() -> None:
    nmc = REFERENCE_CELLS[Chemistry.NMC]
    lfp = REFERENCE_CELLS[Chemistry.LFP]
    assert (nmc.capacity_ah, nmc.r0_ohm) == pytest.approx((5.0, 0.023))
    assert nmc.r1_ohm * nmc.c1_f == pytest.approx(23.75)  # tau 24 s
    assert lfp.r1_ohm * lfp.c1_f == pytest.approx(14.4)  # tau 14 s
