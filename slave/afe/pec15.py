"""PEC15 of the LTC681x (ADBMS181x) family: CRC-15, polynomial 0x4599, seed 16, MSB first,
the result shifted left by one (the LSB of the 16-bit PEC is 0). docs/PROTOCOLS.md section 6."""

from __future__ import annotations

POLYNOMIAL = 0x4599
SEED = 0x0010


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        remainder = byte << 7
        for _ in range(8):
            remainder = ((remainder << 1) ^ POLYNOMIAL) if remainder & 0x4000 else remainder << 1
            remainder &= 0x7FFF
        table.append(remainder)
    return tuple(table)


_TABLE = _table()


def pec15(data: bytes | bytearray) -> int:
    """The 16-bit PEC as sent on the wire (bit 0 is 0)."""
    remainder = SEED
    for byte in data:
        remainder = ((remainder << 8) ^ _TABLE[((remainder >> 7) ^ byte) & 0xFF]) & 0x7FFF
    return remainder << 1


def with_pec(data: bytes) -> bytes:
    return data + pec15(data).to_bytes(2, "big")


def pec_ok(block: bytes) -> bool:
    """A block of data followed by its 2-byte PEC."""
    return len(block) >= 2 and pec15(block[:-2]).to_bytes(2, "big") == block[-2:]
