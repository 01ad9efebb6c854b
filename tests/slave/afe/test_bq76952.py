"""The BQ76952 driver against a fake chip that checks every subcommand checksum."""

from dataclasses import dataclass, field

import pytest

from bms.settings import Settings, load_settings
from dbc.frames import ModuleFault
from slave.afe.bq76952 import (
    CELL1_VOLTAGE,
    CHECKSUM,
    SUBCOMMAND,
    TEMPERATURES,
    TRANSFER_BUFFER,
    Bq76952Afe,
    checksum,
    problem,
)


@dataclass
class FakeBq76952:
    cells_mv: list[int]
    temperatures_dk: list[int]
    balancing: int = 0
    bad_checksums: int = 0
    flaky_reads: int = 0
    pending: bytes = b""
    subcommands: list[int] = field(default_factory=list)
    closed: bool = False

    def read(self, register: int, length: int) -> bytes:
        if register == TRANSFER_BUFFER:
            return self.balancing.to_bytes(2, "little")[:length]
        if register == CHECKSUM:
            data = self.balancing.to_bytes(2, "little")
            return bytes([checksum(int.from_bytes(self.pending, "little"), data), 6])
        if CELL1_VOLTAGE <= register < CELL1_VOLTAGE + 32:
            value = self.cells_mv[(register - CELL1_VOLTAGE) // 2]
        else:
            value = self.temperatures_dk[TEMPERATURES.index(register)]
        if self.flaky_reads:  # a noisy line: every read wrong in its own way
            self.flaky_reads -= 1
            value ^= 1 << (self.flaky_reads % 8)
        return value.to_bytes(2, "little")

    def write(self, register: int, data: bytes) -> None:
        if register == SUBCOMMAND:
            self.pending = data
            self.subcommands.append(int.from_bytes(data[:2], "little"))
        elif register == CHECKSUM:
            code, payload = int.from_bytes(self.pending[:2], "little"), self.pending[2:]
            if data[0] != checksum(code, payload) or data[1] != len(payload) + 4:
                self.bad_checksums += 1
                return
            if code == 0x0083:
                self.balancing = int.from_bytes(payload, "little")

    def close(self) -> None:
        self.closed = True


def settings(cells: int = 14, sensors: int = 2, inputs: str = "[]") -> Settings:
    return load_settings(None, [f"pack.cells_per_module={cells}",
                                f"pack.temperature_sensors_per_module={sensors}",
                                f"slave.bq76952.cell_inputs={inputs}"])


def chip() -> FakeBq76952:
    return FakeBq76952([3300 + i for i in range(16)], [2981, 3031, 0])


def test_reads_cells_and_temperatures() -> None:
    fake = chip()
    measurement = Bq76952Afe(settings(), port=fake).measure(0.0)
    assert measurement.cell_voltages_mv == tuple(float(3300 + i) for i in range(14))
    assert measurement.temperatures_degc == pytest.approx((24.95, 29.95))  # 0.1 K counts
    assert measurement.faults == ModuleFault.NONE


def test_balancing_mask_through_the_subcommand_with_checksum() -> None:
    fake = chip()
    afe = Bq76952Afe(settings(cells=4, inputs="[1, 2, 3, 16]"), port=fake)
    afe.set_balancing(0b1001)  # cells 0 and 3: inputs 1 and 16
    assert fake.balancing == (1 << 0) | (1 << 15)
    assert fake.bad_checksums == 0
    afe.close()
    assert fake.balancing == 0
    assert fake.closed


def test_disagreeing_reads_are_retried_then_an_afe_fault() -> None:
    fake = chip()
    afe = Bq76952Afe(settings(), port=fake)
    fake.flaky_reads = 1
    assert afe.measure(0.0).faults == ModuleFault.NONE
    assert afe.chip.errors >= 1
    fake.flaky_reads = 1000
    measurement = afe.measure(0.1)
    assert measurement.faults == ModuleFault.AFE_COMM
    assert set(measurement.cell_voltages_mv) == {None}


def test_an_open_thermistor_reads_invalid() -> None:
    fake = chip()
    measurement = Bq76952Afe(settings(sensors=3), port=fake).measure(0.0)
    assert measurement.temperatures_degc[2] is None
    assert ModuleFault.TEMPERATURE_SENSOR in measurement.faults


def test_subcommand_read_back_checks_the_checksum() -> None:
    fake = chip()
    afe = Bq76952Afe(settings(), port=fake)
    afe.set_balancing(0b11)
    assert afe.chip.read_subcommand(0x0083, 2) == (0b11).to_bytes(2, "little")


@pytest.mark.parametrize(("cells", "sensors", "inputs", "message"), [
    (4, 2, "[1, 2, 3]", "3 inputs for 4 cells"),
    (2, 2, "[1, 1]", "distinct inputs 1..16"),
    (4, 4, "[]", "the BQ76952 reads 3"),
])
def test_impossible_packs(cells: int, sensors: int, inputs: str, message: str) -> None:
    assert message in str(problem(settings(cells, sensors, inputs)))
