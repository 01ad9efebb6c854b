"""The buses an AFE hangs on: SPI (LTC681x over isoSPI) and I2C (BQ76952).

The drivers see these small ports; the adapters wrap `spidev` and `smbus2` (imported only
when a real device is opened), and the tests give a fake chip that checks every byte.
"""

from __future__ import annotations

from typing import Any, Protocol

from bms.errors import ConfigError


class SpiPort(Protocol):
    def transfer(self, data: bytes) -> bytes:
        """Full duplex: clock ``data`` out, return what came in (as long as ``data``)."""
        ...

    def close(self) -> None: ...


class I2cPort(Protocol):
    def read(self, register: int, length: int) -> bytes: ...

    def write(self, register: int, data: bytes) -> None: ...

    def close(self) -> None: ...


class SpidevPort:
    """SPI mode 3, as the LTC681x wants it."""

    def __init__(self, bus: int, device: int, speed_hz: int) -> None:
        try:
            import spidev  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ConfigError("slave.afe: the LTC681x driver needs spidev "
                              "(pip install 'pybms[sbc]')") from exc
        self._spi: Any = spidev.SpiDev()
        self._spi.open(bus, device)
        self._spi.mode = 3
        self._spi.max_speed_hz = speed_hz

    def transfer(self, data: bytes) -> bytes:
        return bytes(self._spi.xfer2(list(data)))

    def close(self) -> None:
        self._spi.close()


class Smbus2Port:
    def __init__(self, bus: int, address: int) -> None:
        try:
            import smbus2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ConfigError("slave.afe: the BQ76952 driver needs smbus2 "
                              "(pip install 'pybms[sbc]')") from exc
        self._bus: Any = smbus2.SMBus(bus)
        self.address = address

    def read(self, register: int, length: int) -> bytes:
        return bytes(self._bus.read_i2c_block_data(self.address, register, length))

    def write(self, register: int, data: bytes) -> None:
        self._bus.write_i2c_block_data(self.address, register, list(data))

    def close(self) -> None:
        self._bus.close()
