"""The LTC681x driver against a fake daisy chain that checks every PEC."""

import dataclasses

import pytest

from bms.settings import Settings, load_settings
from dbc.frames import ModuleFault
from slave.afe import ltc681x as ltc
from slave.afe.ltc681x import Ltc681xAfe, Ltc681xChain, problem
from slave.afe.pec15 import pec15
from slave.afe.thermistor import Thermistor
from tests.slave.afe.fake_ltc681x import FakeChain

VECTORS = [(0x001, 0x3D6E), (0x002, 0x2B0A), (0x004, 0x07C2), (0x006, 0x9A94), (0x008, 0x5E52),
           (0x00A, 0xC304), (0x00C, 0xEFCC), (0x360, 0xF46C), (0x711, 0xC9C0)]


@pytest.mark.parametrize(("code", "pec"), VECTORS)
def test_pec15_datasheet_vectors(code: int, pec: int) -> None:
    assert pec15(code.to_bytes(2, "big")) == pec


def test_adcv_code() -> None:
    assert ltc.ADCV == 0x360  # MD = 2 (7 kHz), DCP = 0, CH = 0: the vector above


def settings(cells: int, sensors: int, ics: int) -> Settings:
    return load_settings(None, [f"pack.cells_per_module={cells}",
                                f"pack.temperature_sensors_per_module={sensors}",
                                f"slave.ltc681x.ics={ics}", "slave.ltc681x.open_wire_every=0"])


def rig(variant: str, cells: int, sensors: int, ics: int) -> tuple[Ltc681xAfe, FakeChain,
                                                                   list[float], list[float]]:
    s = settings(cells, sensors, ics)
    cells_mv = [3600.0 + 7.3 * i for i in range(cells)]
    temps = [20.0 + 1.5 * i for i in range(sensors)]
    t = s.slave.ltc681x.thermistor
    fake = FakeChain(variant, ics, cells_mv, temps,
                     Thermistor(t.beta, t.r25_ohm, t.pullup_ohm, t.reference_v))
    return Ltc681xAfe(s, variant, port=fake, sleep=lambda s: None), fake, cells_mv, temps


@pytest.mark.parametrize(("variant", "cells", "sensors", "ics"),
                         [("ltc6813", 16, 8, 1), ("ltc6811", 12, 4, 1), ("ltc6811", 16, 8, 2),
                          ("ltc6813", 18, 9, 1)])
def test_measures_cells_and_temperatures(variant: str, cells: int, sensors: int,
                                         ics: int) -> None:
    afe, fake, cells_mv, temps = rig(variant, cells, sensors, ics)
    measurement = afe.measure(0.0)
    assert measurement.cell_voltages_mv == pytest.approx(cells_mv, abs=0.05)
    assert measurement.temperatures_degc == pytest.approx(temps, abs=0.05)
    assert measurement.faults == ModuleFault.NONE
    assert fake.received_bad_pecs == 0
    assert ltc.ADCV in fake.commands
    assert ltc.ADAX in fake.commands


def test_configuration_and_balancing_bits() -> None:
    afe, fake, _, _ = rig("ltc6813", 18, 4, 1)
    afe.set_balancing(0b10_1000_0000_0000_0101)  # cells 0, 2, 11, 17
    assert fake.dcc(0) == 0b10_1000_0000_0000_0101
    assert fake.dcto(0) == 2  # the chip stops bleeding by itself after a minute
    a = fake.ics[0].config_a
    vuv, vov = a[1] | (a[2] & 0x0F) << 8, (a[2] >> 4) | a[3] << 4
    assert (vuv + 1) * 16 * 0.1 == pytest.approx(2500, abs=1.6)  # V_UV = (VUV+1) 16 100 uV
    assert vov * 16 * 0.1 == pytest.approx(4300, abs=1.6)
    afe.close()
    assert fake.dcc(0) == 0
    assert fake.closed


def test_two_ics_split_the_balancing_mask_and_write_the_last_ic_first() -> None:
    afe, fake, _, _ = rig("ltc6811", 16, 4, 2)
    afe.set_balancing((1 << 3) | (1 << 9))  # cell 3 on IC 0, cell 9 = input 1 of IC 1
    assert (fake.dcc(0), fake.dcc(1)) == (1 << 3, 1 << 1)
    assert fake.received_bad_pecs == 0


def test_pec_errors_are_retried_then_reported_as_an_afe_fault() -> None:
    afe, fake, cells_mv, _ = rig("ltc6813", 16, 4, 1)
    fake.corrupt_next_reads = 2  # within the budget of 2 re-reads
    assert afe.measure(0.0).cell_voltages_mv == pytest.approx(cells_mv, abs=0.05)
    assert afe.chain.pec_errors == 2
    fake.corrupt_next_reads = 100  # a broken chain
    measurement = afe.measure(0.1)
    assert measurement.faults == ModuleFault.AFE_COMM
    assert set(measurement.cell_voltages_mv) == {None}
    assert afe.chain.failed_reads == 1


def test_open_wire_check_finds_the_wire_and_invalidates_its_cells() -> None:
    afe, fake, _, _ = rig("ltc6813", 16, 4, 1)
    fake.open_wires = {(0, 5)}  # between cell 4 and cell 5
    assert afe.open_wire_check() == {5}
    afe.config = dataclasses.replace(afe.config, open_wire_every=1)
    measurement = afe.measure(0.0)
    assert ModuleFault.OPEN_WIRE in measurement.faults
    assert measurement.cell_voltages_mv[4] is None
    assert measurement.cell_voltages_mv[5] is None
    assert measurement.cell_voltages_mv[3] is not None


def test_a_cleared_register_reads_invalid() -> None:
    afe, fake, _, _ = rig("ltc6813", 16, 4, 1)
    fake.ics[0].cells_mv[2] = 0xFFFF * 0.1  # the chip's "no conversion" value
    measurement = afe.measure(0.0)
    assert measurement.cell_voltages_mv[2] is None
    assert ModuleFault.MEASUREMENT_RANGE in measurement.faults


def test_chain_rejects_malformed_writes() -> None:
    chain = Ltc681xChain(FakeChain("ltc6811", 1, [3600.0] * 12, [], Thermistor(3435, 1e4, 1e4,
                                                                                 3.0)), 1, 0)
    with pytest.raises(ValueError, match="6 bytes"):
        chain.write(ltc.WRCFGA, [bytes(5)])


@pytest.mark.parametrize(("overrides", "message"), [
    ((17, 8, 1, "ltc6811"), "17 cells per LTC6811, it measures 12"),
    ((16, 8, 3, "ltc6813"), "16 cells do not spread evenly over 3 ICs"),
    ((12, 6, 1, "ltc6811"), "LTC6811 has 5 GPIOs per IC"),
])
def test_impossible_packs_are_refused(overrides: tuple[int, int, int, str], message: str) -> None:
    cells, sensors, ics, variant = overrides
    assert message in str(problem(settings(cells, sensors, ics), variant))
