"""The AFE port: what a slave needs from the chip that measures its cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dbc.frames import ModuleFault


class AfeCommError(Exception):
    """The chip (or its daisy chain) did not answer consistently within the retry budget:
    the one error family of every AFE backend."""


@dataclass(frozen=True)
class AfeMeasurement:
    """One measurement cycle. ``None`` marks a reading the AFE could not make or trust."""

    cell_voltages_mv: tuple[float | None, ...]
    temperatures_degc: tuple[float | None, ...]
    faults: ModuleFault = ModuleFault.NONE


class Afe(Protocol):
    """An analog front end, real or simulated. Every call is synchronous and bounded."""

    def measure(self, now_s: float) -> AfeMeasurement:
        """Measure all cells and temperature sensors."""
        ...

    def set_balancing(self, cells_mask: int) -> None:
        """Switch the bleed resistors (bit i = cell i); 0 switches them all off."""
        ...

    def close(self) -> None:
        """Release the hardware with every bleed resistor off; safe to call twice."""
        ...


@runtime_checkable
class PackCurrentListener(Protocol):
    """An AFE that needs the pack current (the simulated one: it carries the current)."""

    def set_pack_current(self, current_a: float, now_s: float) -> None: ...
