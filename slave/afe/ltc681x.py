"""LTC6811 / LTC6813 (ADBMS181x) over SPI/isoSPI, a daisy chain of ICs per module.

Facts from the datasheets (docs/PROTOCOLS.md section 6): an 11-bit command in two bytes plus
PEC15; every IC's 6 data bytes carry their own PEC; reads return the nearest IC first,
writes send the last IC's data first. Cell registers hold 3 cells each, 16 bits little
endian, 100 uV a count. Configuration register A byte 4 / byte 5 low nibble hold DCC1..12
and the high nibble of byte 5 the discharge timeout; LTC6813 register B holds DCC13..18.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bms.settings import Ltc681xSettings, Settings
from dbc.frames import ModuleFault
from slave.afe.base import AfeCommError, AfeMeasurement
from slave.afe.pec15 import pec_ok, with_pec
from slave.afe.ports import SpidevPort, SpiPort
from slave.afe.thermistor import Thermistor

log = logging.getLogger(__name__)

WRCFGA, RDCFGA, WRCFGB, RDCFGB = 0x001, 0x002, 0x024, 0x026
RDCV = (0x004, 0x006, 0x008, 0x00A, 0x009, 0x00B)  # groups A..F (E, F: LTC6813)
RDAUX = (0x00C, 0x00E, 0x00D, 0x00F)  # groups A..D (C, D: LTC6813)
MD_NORMAL = 2  # 7 kHz
ADCV = 0x260 + MD_NORMAL * 0x80  # all cells, discharge not permitted: 0x360
ADAX = 0x460 + MD_NORMAL * 0x80  # all GPIOs and the second reference: 0x560
ADOW_PULL_UP = 0x228 + MD_NORMAL * 0x80 + 0x40
ADOW_PULL_DOWN = 0x228 + MD_NORMAL * 0x80
CLRCELL = 0x711
CELL_LSB_MV = 0.1
REGISTER_CLEARED = 0xFFFF  # a cell register that holds no conversion
OPEN_WIRE_DELTA_MV = -400.0  # pull-up minus pull-down below this: the wire is open
OPEN_WIRE_REPEATS = 2  # the datasheet asks for at least two ADOW conversions each way
BYTES_PER_IC = 8  # 6 data + 2 PEC


@dataclass(frozen=True)
class Variant:
    name: str
    cells_per_ic: int
    cell_groups: int
    gpios: int
    aux_groups: int
    conversion_s: float  # ADCV, normal mode, all cells (datasheet table, rounded up)
    aux_conversion_s: float


VARIANTS = {
    "ltc6811": Variant("LTC6811", 12, 4, 5, 2, 0.0025, 0.0025),
    "ltc6813": Variant("LTC6813", 18, 6, 9, 4, 0.0035, 0.0040),
}


class Ltc681xChain:
    """Commands to a daisy chain, with PEC checks, re-reads and error counters."""

    def __init__(self, port: SpiPort, ics: int, retries: int) -> None:
        self.port = port
        self.ics = ics
        self.retries = retries
        self.pec_errors = 0
        self.failed_reads = 0

    @staticmethod
    def _command(code: int) -> bytes:
        return with_pec(code.to_bytes(2, "big"))

    def wake_up(self) -> None:
        """isoSPI idle -> ready: one dummy byte per IC in the chain."""
        self.port.transfer(b"\xff" * self.ics)

    def command(self, code: int) -> None:
        self.port.transfer(self._command(code))

    def write(self, code: int, per_ic: list[bytes]) -> None:
        """``per_ic[0]`` is the nearest IC; the chain wants the last IC's data first."""
        if len(per_ic) != self.ics or any(len(d) != 6 for d in per_ic):
            raise ValueError("6 bytes for every IC")
        payload = b"".join(with_pec(d) for d in reversed(per_ic))
        self.port.transfer(self._command(code) + payload)

    def read(self, code: int) -> list[bytes]:
        """6 data bytes per IC, nearest first; raises AfeCommError past the retry budget."""
        request = self._command(code) + b"\xff" * (BYTES_PER_IC * self.ics)
        for _ in range(self.retries + 1):
            answer = self.port.transfer(request)[4:]
            blocks = [answer[i * BYTES_PER_IC:(i + 1) * BYTES_PER_IC] for i in range(self.ics)]
            bad = sum(1 for block in blocks if not pec_ok(block))
            if not bad:
                return [block[:6] for block in blocks]
            self.pec_errors += bad
        self.failed_reads += 1
        raise AfeCommError(f"command 0x{code:03X}: PEC errors beyond {self.retries} retries")


def cells_of(registers: list[list[bytes]], cells_per_ic: int) -> list[list[int]]:
    """Raw 16-bit readings per IC from the register groups of every IC."""
    per_ic: list[list[int]] = []
    for ic in range(len(registers[0])):
        values = []
        for group in registers:
            data = group[ic]
            values += [int.from_bytes(data[i:i + 2], "little") for i in (0, 2, 4)]
        per_ic.append(values[:cells_per_ic])
    return per_ic


class Ltc681xAfe:
    """One module measured by a chain of LTC681x ICs, the cells spread evenly over them."""

    def __init__(self, settings: Settings, variant: str, port: SpiPort | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.variant = VARIANTS[variant]
        self.config: Ltc681xSettings = settings.slave.ltc681x
        c = self.config
        self.cells = settings.pack.cells_per_module
        self.sensors = settings.pack.temperature_sensors_per_module
        self.cells_per_ic = self.cells // c.ics
        self.sensors_per_ic = -(-self.sensors // c.ics)
        self.port = port or SpidevPort(c.spi_bus, c.spi_device, c.speed_hz)
        self.chain = Ltc681xChain(self.port, c.ics, c.retries)
        self.thermistor = Thermistor(c.thermistor.beta, c.thermistor.r25_ohm,
                                     c.thermistor.pullup_ohm, c.thermistor.reference_v)
        self._sleep = sleep
        self._measurements = 0
        self._balancing_mask = 0
        self._open_wires: set[int] = set()
        self.chain.wake_up()
        self._write_config(0)

    # --- configuration and balancing --------------------------------------------------------

    def _config_a(self, dcc: int) -> bytes:
        c = self.config
        vuv = max(0, round(c.comparator_uv_mv / CELL_LSB_MV / 16) - 1)
        vov = round(c.comparator_ov_mv / CELL_LSB_MV / 16)
        return bytes([
            0xFC,  # GPIO pull-downs off, REFON: the reference stays up between conversions
            vuv & 0xFF,
            ((vov & 0x0F) << 4) | ((vuv >> 8) & 0x0F),
            (vov >> 4) & 0xFF,
            dcc & 0xFF,
            ((c.discharge_timeout_code & 0x0F) << 4) | ((dcc >> 8) & 0x0F),
        ])

    @staticmethod
    def _config_b(dcc: int) -> bytes:
        return bytes([((dcc >> 12) & 0x0F) << 4, (dcc >> 16) & 0x03, 0, 0, 0, 0])

    def _write_config(self, module_mask: int) -> None:
        per_ic = [(module_mask >> (ic * self.cells_per_ic)) & ((1 << self.cells_per_ic) - 1)
                  for ic in range(self.config.ics)]
        self.chain.write(WRCFGA, [self._config_a(dcc) for dcc in per_ic])
        if self.variant.cell_groups > 4:
            self.chain.write(WRCFGB, [self._config_b(dcc) for dcc in per_ic])

    def set_balancing(self, cells_mask: int) -> None:
        mask = cells_mask & ((1 << self.cells) - 1)
        if mask == self._balancing_mask:
            return
        self.chain.wake_up()
        self._write_config(mask)
        self._balancing_mask = mask

    def close(self) -> None:
        try:
            self.chain.wake_up()
            self._write_config(0)  # every bleed resistor off
        finally:
            self.port.close()

    # --- measuring ------------------------------------------------------------------------------

    def _read_cells(self) -> list[list[int]]:
        groups = [self.chain.read(code) for code in RDCV[:self.variant.cell_groups]]
        return cells_of(groups, self.cells_per_ic)

    def _convert(self, code: int) -> list[list[int]]:
        self.chain.command(code)
        self._sleep(self.variant.conversion_s)
        return self._read_cells()

    def open_wire_check(self) -> set[int]:
        """Module cell inputs whose sense wire is open (datasheet algorithm)."""
        for _ in range(OPEN_WIRE_REPEATS):
            pulled_up = self._convert(ADOW_PULL_UP)
        for _ in range(OPEN_WIRE_REPEATS):
            pulled_down = self._convert(ADOW_PULL_DOWN)
        open_wires: set[int] = set()
        for ic in range(self.config.ics):
            up, down = pulled_up[ic], pulled_down[ic]
            base = ic * self.cells_per_ic
            if up[0] == 0:
                open_wires.add(base)  # C0
            for n in range(1, self.cells_per_ic):
                if (up[n] - down[n]) * CELL_LSB_MV < OPEN_WIRE_DELTA_MV:
                    open_wires.add(base + n)  # the wire between cells n-1 and n
            if down[-1] == 0:
                open_wires.add(base + self.cells_per_ic)  # the top wire
        return open_wires

    def _temperatures(self) -> list[float | None]:
        self.chain.command(ADAX)
        self._sleep(self.variant.aux_conversion_s)
        groups = [self.chain.read(code) for code in RDAUX[:self.variant.aux_groups]]
        temperatures: list[float | None] = []
        for ic in range(self.config.ics):
            raw = []
            for group in groups:
                raw += [int.from_bytes(group[ic][i:i + 2], "little") for i in (0, 2, 4)]
            gpios = [raw[i] for i in range(len(raw)) if i != 5][:self.variant.gpios]  # skip REF
            temperatures += [self.thermistor.temperature_degc(v * CELL_LSB_MV / 1000)
                             for v in gpios[:self.sensors_per_ic]]
        return temperatures[:self.sensors]

    def measure(self, now_s: float) -> AfeMeasurement:
        faults = ModuleFault.NONE
        try:
            self.chain.wake_up()
            every = self.config.open_wire_every
            if every and self._measurements % every == 0:
                self._open_wires = self.open_wire_check()
            self._measurements += 1
            per_ic = self._convert(ADCV)
            temperatures = self._temperatures()
        except AfeCommError as exc:
            log.error("AFE: %s (PEC errors so far: %d)", exc, self.chain.pec_errors)
            return AfeMeasurement((None,) * self.cells, (None,) * self.sensors,
                                  ModuleFault.AFE_COMM)
        voltages: list[float | None] = []
        for raw in per_ic:
            voltages += [None if v == REGISTER_CLEARED else v * CELL_LSB_MV for v in raw]
        if any(v is None for v in voltages):
            faults |= ModuleFault.MEASUREMENT_RANGE
        if self._open_wires:
            faults |= ModuleFault.OPEN_WIRE
            for wire in self._open_wires:  # both cells on an open wire read nonsense
                for cell in (wire - 1, wire):
                    if 0 <= cell < self.cells:
                        voltages[cell] = None
        if any(t is None for t in temperatures):
            faults |= ModuleFault.TEMPERATURE_SENSOR
        return AfeMeasurement(tuple(voltages), tuple(temperatures), faults)


def problem(settings: Settings, variant: str) -> str | None:
    """Why this pack cannot be measured by this chain, or None."""
    chip = VARIANTS[variant]
    c = settings.slave.ltc681x
    cells, sensors = settings.pack.cells_per_module, settings.pack.temperature_sensors_per_module
    if cells % c.ics:
        return f"slave.ltc681x.ics: {cells} cells do not spread evenly over {c.ics} ICs"
    if cells // c.ics > chip.cells_per_ic:
        return (f"pack.cells_per_module: {cells // c.ics} cells per {chip.name}, "
                f"it measures {chip.cells_per_ic}")
    if -(-sensors // c.ics) > chip.gpios:
        return (f"pack.temperature_sensors_per_module: {chip.name} has {chip.gpios} GPIOs "
                "per IC")
    return None
