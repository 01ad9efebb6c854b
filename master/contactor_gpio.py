"""Contactors on the master board's GPIO lines (libgpiod v2), with auxiliary-contact inputs.

For packs without a contactor box on the bus: the master drives the coils itself and reads
the feedback contacts; the HV bus voltage then comes from the current sensor's U2. Outputs
start inactive (open) and go inactive again when the driver closes.
"""

from __future__ import annotations

from typing import Any, Protocol

from bms.errors import ConfigError
from bms.settings import GpioContactorSettings
from dbc.frames import OPEN, Contactors

NAMES = ("main_plus", "main_minus", "precharge")


class GpioLines(Protocol):
    """What the driver needs of a libgpiod line request."""

    def set_values(self, values: dict[int, bool]) -> None: ...

    def get_values(self, lines: list[int]) -> list[bool]: ...

    def release(self) -> None: ...


class LibgpiodLines:
    """libgpiod v2 (`gpiod` on PyPI), imported only here."""

    def __init__(self, chip: str, outputs: list[int], inputs: list[int]) -> None:
        try:
            import gpiod  # type: ignore[import-not-found]
            from gpiod.line import Direction, Value  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ConfigError("contactors.driver: gpio needs the gpiod package "
                              "(pip install 'pybms[sbc]')") from exc
        self._value = Value
        config: dict[Any, Any] = {
            tuple(outputs): gpiod.LineSettings(direction=Direction.OUTPUT,
                                               output_value=Value.INACTIVE)}
        if inputs:
            config[tuple(inputs)] = gpiod.LineSettings(direction=Direction.INPUT)
        self._request = gpiod.request_lines(chip, consumer="bms-master", config=config)

    def set_values(self, values: dict[int, bool]) -> None:
        self._request.set_values({line: self._value.ACTIVE if on else self._value.INACTIVE
                                  for line, on in values.items()})

    def get_values(self, lines: list[int]) -> list[bool]:
        return [value == self._value.ACTIVE for value in self._request.get_values(lines)]

    def release(self) -> None:
        self._request.release()


class GpioContactors:
    def __init__(self, settings: GpioContactorSettings, lines: GpioLines | None = None) -> None:
        self.settings = settings
        self.outputs = [settings.main_plus_line, settings.main_minus_line,
                        settings.precharge_line]
        self.inputs = [line for line in (settings.main_plus_feedback_line,
                                         settings.main_minus_feedback_line,
                                         settings.precharge_feedback_line) if line >= 0]
        self.lines = lines or LibgpiodLines(settings.chip, self.outputs, self.inputs)
        self.applied: Contactors | None = None
        self.apply(OPEN)

    def apply(self, contactors: Contactors) -> None:
        if contactors == self.applied:
            return
        active_low = self.settings.outputs_active_low
        self.lines.set_values({line: getattr(contactors, name) != active_low
                               for line, name in zip(self.outputs, NAMES, strict=True)})
        self.applied = contactors

    def feedback(self) -> Contactors | None:
        """What the auxiliary contacts say; None without feedback inputs."""
        if len(self.inputs) != len(NAMES):
            return None
        values = self.lines.get_values(self.inputs)
        closed = [value != self.settings.feedback_active_low for value in values]
        return Contactors(*closed)

    def close(self) -> None:
        try:
            self.apply(OPEN)
        finally:
            self.lines.release()
