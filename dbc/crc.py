"""CRC-8 algorithms used by the E2E profiles (AUTOSAR CRC library, docs/PROTOCOLS.md section 2).

Table driven, MSB first, not reflected. The check values of the standard parameter sets are
in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _make_table(polynomial: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ polynomial) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


@dataclass(frozen=True)
class Crc8:
    """One CRC-8 parameter set: polynomial, initial value and final XOR."""

    polynomial: int
    init: int
    xor_out: int
    _table: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_table", _make_table(self.polynomial))

    def compute(self, data: bytes | bytearray | memoryview, start: int | None = None) -> int:
        """CRC of ``data``; ``start`` continues a previous (pre-xor) register value."""
        crc = self.init if start is None else start
        table = self._table
        for byte in data:
            crc = table[crc ^ byte]
        return crc ^ self.xor_out

    @property
    def table(self) -> tuple[int, ...]:
        return self._table


# SAE J1850: check value 0x4B over b"123456789".
CRC8_SAE_J1850 = Crc8(polynomial=0x1D, init=0xFF, xor_out=0xFF)
# AUTOSAR CRC8H2F: check value 0xDF over b"123456789".
CRC8_H2F = Crc8(polynomial=0x2F, init=0xFF, xor_out=0xFF)
# The effective CRC of E2E profile 1: poly 0x1D, init 0, no final XOR.
CRC8_E2E_P01 = Crc8(polynomial=0x1D, init=0x00, xor_out=0x00)
