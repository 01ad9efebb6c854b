"""The Modbus TCP side: pymodbus's server over a register map (an async context manager).

Every read asks the map for the registers at that moment (one consistent snapshot per
request); every write goes to the map, which takes it or answers with an exception code.
Only the register functions are served (read holding 3, read input 4, write single 6,
write multiple 16, read/write 23: input and holding registers are the same map); coils
and discrete inputs are ILLEGAL FUNCTION. A request to another unit id than ours is
answered GATEWAY TARGET FAILED TO RESPOND, as a gateway answers for a device it lacks.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Protocol, cast

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from sunspec.controls import ModbusError
from sunspec.errors import SunSpecError

log = logging.getLogger(__name__)

REGISTER_FUNCTIONS = frozenset({3, 4, 6, 16, 23})
ANY_OTHER_UNIT = 0  # pymodbus: the device that answers for every id without its own


class RegisterMap(Protocol):
    def read(self, address: int, count: int) -> list[int]: ...

    async def write(self, address: int, values: list[int]) -> ModbusError | None: ...


class ModbusServer:
    """Serves ``registers`` from ``base`` for ``length`` registers as unit ``unit_id``;
    ``port`` 0 takes any free port (``self.port`` says which, once entered)."""

    def __init__(self, registers: RegisterMap, base: int, length: int, listen: str,
                 port: int, unit_id: int) -> None:
        self.registers = registers
        self.base, self.length = base, length
        self.listen, self.port, self.unit_id = listen, port, unit_id
        self._server: ModbusTcpServer | None = None

    async def _ours(self, function_code: int, start_address: int, address: int, count: int,
                    registers: list[int], set_values: list[int] | list[bool] | None
                    ) -> ExcCodes | None:
        if function_code not in REGISTER_FUNCTIONS:
            return ExcCodes.ILLEGAL_FUNCTION
        if set_values is None:  # a read: the map as it is now
            offset = address - start_address
            registers[offset:offset + count] = self.registers.read(address, count)
            return None
        refused = await self.registers.write(address, [int(v) for v in set_values])
        return None if refused is None else ExcCodes(int(refused))

    @staticmethod
    async def _others(function_code: int, start_address: int, address: int, count: int,
                      registers: list[int], set_values: list[int] | list[bool] | None
                      ) -> ExcCodes | None:
        return ExcCodes.GATEWAY_NO_RESPONSE

    def _device(self, unit_id: int, ours: bool) -> SimDevice:
        block = SimData(self.base, count=self.length, datatype=DataType.REGISTERS)
        return SimDevice(unit_id, simdata=[block], action=self._ours if ours else self._others)

    async def __aenter__(self) -> ModbusServer:
        server = ModbusTcpServer([self._device(self.unit_id, True),
                                  self._device(ANY_OTHER_UNIT, False)],
                                 address=(self.listen, self.port))
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:  # pymodbus: it could not listen (the reason is logged)
            await server.shutdown()  # type: ignore[no-untyped-call]
            raise SunSpecError(f"cannot listen on {self.listen}:{self.port} (taken, or "
                               f"not an address of this host)") from exc
        self._server = server
        listening = cast("asyncio.Server", server.transport)  # a listener's transport
        self.port = int(listening.sockets[0].getsockname()[1])
        log.info("sunspec: Modbus TCP on %s:%d, unit %d", self.listen, self.port, self.unit_id)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]
