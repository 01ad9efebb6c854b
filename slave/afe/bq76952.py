"""TI BQ76952 (3..16 cells) over I2C (docs/PROTOCOLS.md section 6, TI TRM).

Direct commands read cell voltages (0x14, 0x16, ... 0x32: mV, little endian) and
temperatures (TS1..TS3 at 0x70, 0x72, 0x74: 0.1 K). Subcommands go to 0x3E/0x3F with their
data in the buffer at 0x40..; the checksum at 0x60 is the inverted byte sum of subcommand and
data, the length at 0x61 counts them plus 4. Host-controlled balancing writes the cell mask
with the CB_ACTIVE_CELLS subcommand (its code is configurable: check it for your silicon).
"""

from __future__ import annotations

import logging

from bms.settings import Bq76952Settings, Settings
from dbc.frames import ModuleFault
from slave.afe.base import AfeCommError, AfeMeasurement
from slave.afe.ports import I2cPort, Smbus2Port

log = logging.getLogger(__name__)

CELL1_VOLTAGE = 0x14
STACK_VOLTAGE = 0x34
TEMPERATURES = (0x70, 0x72, 0x74)  # TS1, TS2, TS3
SUBCOMMAND = 0x3E
TRANSFER_BUFFER = 0x40
CHECKSUM = 0x60
MAX_CELLS = 16
DECIKELVIN_OFFSET = 2731.5
INVALID_TEMPERATURE = (0, 0xFFFF)  # an open or shorted thermistor pin


def checksum(subcommand: int, data: bytes) -> int:
    return ~(sum(subcommand.to_bytes(2, "little")) + sum(data)) & 0xFF


class Bq76952:
    def __init__(self, port: I2cPort, retries: int) -> None:
        self.port = port
        self.retries = retries
        self.errors = 0

    def read_word(self, register: int) -> int:
        """A 16-bit direct command, read twice for agreement (no CRC in this I2C mode)."""
        for _ in range(self.retries + 1):
            first = self.port.read(register, 2)
            second = self.port.read(register, 2)
            if first == second and len(first) == 2:
                return int.from_bytes(first, "little")
            self.errors += 1
        raise AfeCommError(f"register 0x{register:02X}: readings disagree beyond "
                           f"{self.retries} retries")

    def write_subcommand(self, subcommand: int, data: bytes) -> None:
        self.port.write(SUBCOMMAND, subcommand.to_bytes(2, "little") + data)
        self.port.write(CHECKSUM, bytes([checksum(subcommand, data), len(data) + 4]))

    def read_subcommand(self, subcommand: int, length: int) -> bytes:
        for _ in range(self.retries + 1):
            self.port.write(SUBCOMMAND, subcommand.to_bytes(2, "little"))
            data = self.port.read(TRANSFER_BUFFER, length)
            check, size = self.port.read(CHECKSUM, 2)
            if check == checksum(subcommand, data) and size == length + 4:
                return data
            self.errors += 1
        raise AfeCommError(f"subcommand 0x{subcommand:04X}: checksum errors beyond "
                           f"{self.retries} retries")


class Bq76952Afe:
    def __init__(self, settings: Settings, port: I2cPort | None = None) -> None:
        self.config: Bq76952Settings = settings.slave.bq76952
        self.cells = settings.pack.cells_per_module
        self.sensors = settings.pack.temperature_sensors_per_module
        self.inputs = list(self.config.cell_inputs) or list(range(1, self.cells + 1))
        self.chip = Bq76952(port or Smbus2Port(self.config.i2c_bus, self.config.address),
                            self.config.retries)
        self._mask = 0
        self.set_balancing(0)

    def measure(self, now_s: float) -> AfeMeasurement:
        try:
            voltages = tuple(float(self.chip.read_word(CELL1_VOLTAGE + 2 * (n - 1)))
                             for n in self.inputs)
            temperatures = tuple(self._temperature(r) for r in TEMPERATURES[:self.sensors])
        except AfeCommError as exc:
            log.error("AFE: %s", exc)
            return AfeMeasurement((None,) * self.cells, (None,) * self.sensors,
                                  ModuleFault.AFE_COMM)
        faults = ModuleFault.TEMPERATURE_SENSOR if None in temperatures else ModuleFault.NONE
        return AfeMeasurement(voltages, temperatures, faults)

    def _temperature(self, register: int) -> float | None:
        raw = self.chip.read_word(register)
        return None if raw in INVALID_TEMPERATURE else (raw - DECIKELVIN_OFFSET) / 10

    def set_balancing(self, cells_mask: int) -> None:
        """The module's cells, mapped onto the chip's inputs."""
        chip_mask = 0
        for cell, channel in enumerate(self.inputs):
            if cells_mask >> cell & 1:
                chip_mask |= 1 << (channel - 1)
        if chip_mask != self._mask or cells_mask == 0:
            self.chip.write_subcommand(self.config.balancing_subcommand,
                                       chip_mask.to_bytes(2, "little"))
            self._mask = chip_mask

    def close(self) -> None:
        try:
            self.set_balancing(0)
        finally:
            self.chip.port.close()


def problem(settings: Settings) -> str | None:
    config = settings.slave.bq76952
    cells, sensors = settings.pack.cells_per_module, settings.pack.temperature_sensors_per_module
    inputs = list(config.cell_inputs) or list(range(1, cells + 1))
    if len(inputs) != cells:
        return f"slave.bq76952.cell_inputs: {len(inputs)} inputs for {cells} cells"
    if not all(1 <= n <= MAX_CELLS for n in inputs) or len(set(inputs)) != len(inputs):
        return "slave.bq76952.cell_inputs: distinct inputs 1..16"
    if sensors > len(TEMPERATURES):
        return f"pack.temperature_sensors_per_module: the BQ76952 reads {len(TEMPERATURES)}"
    return None
