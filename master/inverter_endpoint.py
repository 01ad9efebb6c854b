"""What every inverter protocol shares on the battery side (docs/endpoints.md#inverter).

`InverterEndpoint` owns the inverter's watch (silence longer than the configured timeout
is INVERTER_LOST), the limits as the protocol's inverters accept them (`clamped`) and the
pack's description; each protocol (`master/inverter_can_bms.py`, `inverter_byd_hvs.py`,
`inverter_pylon_hv.py`) overrides three hooks: what a received frame means (`on_frame`),
whether frames are due (`due`) and which (`frames`). `voltage_problem` refuses, at
configuration time, a pack whose voltage window lies outside what the protocol's inverters
accept. Pure: the core feeds it and sends what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from bms.endpoint_settings import EndpointSettings
from dbc.frames import Frame
from master.diagnosis.table import DiagId
from master.pack_state import Extreme

PCT: Final = 100.0
MV_PER_V: Final = 1000.0
HARDWARE_VERSION: Final = 1
SOFTWARE_VERSION: Final = 1


@dataclass(frozen=True)
class AcceptedRange:
    """What a protocol's inverters accept (docs/endpoints.md, the table of inverters): the
    charge and the discharge voltage limit, each (low, high), and the largest current
    limit."""

    voltage_class: str
    charge_voltage_v: tuple[float, float]
    discharge_voltage_v: tuple[float, float]
    current_max_a: float


@dataclass(frozen=True)
class PackDescription:
    cells: int  # in series
    modules: int
    cells_per_module: int
    chemistry: str  # lower case: nmc, lfp
    capacity_ah: float
    charge_voltage_v: float  # every cell at its operating over-voltage limit
    discharge_voltage_v: float  # every cell at its operating under-voltage limit
    sensors_per_module: int = 1


@dataclass(frozen=True)
class InverterInputs:
    charge_allowed: bool  # the state allows charging now (contactors closed, no fatal)
    discharge_allowed: bool
    charge_limit_a: float  # the power limits (SOF)
    discharge_limit_a: float
    voltage_v: float
    current_a: float  # positive charges
    max_temperature_degc: float
    soc_pct: float
    soh_pct: float
    fatal: tuple[DiagId, ...]
    warnings: tuple[DiagId, ...]
    min_temperature_degc: float | None = None
    highest_cell_mv: Extreme | None = None
    lowest_cell_mv: Extreme | None = None
    hottest_degc: Extreme | None = None
    coldest_degc: Extreme | None = None
    module_voltages_v: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class Limits:
    """The four limits of every protocol, within what its inverters accept."""

    charge_voltage_v: float
    discharge_voltage_v: float
    charge_current_a: float  # magnitudes; 0 refuses the direction
    discharge_current_a: float


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def voltage_problem(protocol: str, accepted: AcceptedRange, pack: PackDescription) -> str | None:
    """Why a pack cannot speak a protocol: its voltage window outside what the protocol's
    inverters accept (they drop such limits or refuse the battery). None when it fits."""
    problems = []
    for what, value, (low, high) in (
            ("charge", pack.charge_voltage_v, accepted.charge_voltage_v),
            ("discharge", pack.discharge_voltage_v, accepted.discharge_voltage_v)):
        if not low <= value <= high:
            problems.append(f"its {what} voltage {value:.1f} V is outside {low:g}-{high:g} V")
    if not problems:
        return None
    return (f"endpoints.inverter: {protocol} ({accepted.voltage_class}) does not fit this pack "
            f"of {pack.cells} cells in series: {'; '.join(problems)} (every cell at its "
            f"operating limits); choose a protocol of its voltage class or change the cells "
            f"in series")


class InverterEndpoint:
    """The battery side of one inverter protocol; subclasses set ``PROTOCOL`` and
    ``ACCEPTED`` and override `on_frame`, `due` and `frames`."""

    PROTOCOL: ClassVar[str] = ""
    ACCEPTED: ClassVar[AcceptedRange]

    def __init__(self, settings: EndpointSettings, pack: PackDescription, now_s: float) -> None:
        self.settings = settings
        self.pack = pack
        self.started_s = now_s
        self.heard_at_s: float | None = None
        # the pack at the charge ceiling: the pack's, or the core's during a calibration
        # charge (`master.endpoints.Endpoints.inverter_frames`)
        self.charge_voltage_v = pack.charge_voltage_v

    def heard(self, now_s: float) -> None:
        """A frame of the inverter: it is alive."""
        self.heard_at_s = now_s

    def lost(self, now_s: float) -> bool:
        timeout = self.settings.inverter_timeout_s
        if timeout == 0:
            return False
        last = self.heard_at_s if self.heard_at_s is not None else self.started_s
        return now_s - last > timeout

    def clamped(self, inputs: InverterInputs) -> Limits:
        """The limits the inverter is sent: a direction the BMS refuses is 0 A; every value
        within what the protocol's inverters accept (they ignore values beyond it: a Sunny
        Island a current above 120 A)."""
        accepted = self.ACCEPTED
        charge_a = inputs.charge_limit_a if inputs.charge_allowed else 0.0
        discharge_a = inputs.discharge_limit_a if inputs.discharge_allowed else 0.0
        return Limits(clamp(self.charge_voltage_v, *accepted.charge_voltage_v),
                      clamp(self.pack.discharge_voltage_v, *accepted.discharge_voltage_v),
                      clamp(charge_a, 0.0, accepted.current_max_a),
                      clamp(discharge_a, 0.0, accepted.current_max_a))

    # --- the protocol's hooks -----------------------------------------------------------

    def on_frame(self, frame: Frame, now_s: float) -> None:
        """A frame of the inverter (a request, its measurements): it is alive."""
        self.heard(now_s)

    def due(self, now_s: float) -> bool:
        """Whether `frames` has something to send now."""
        raise NotImplementedError

    def frames(self, inputs: InverterInputs, now_s: float) -> list[Frame]:
        """The frames due now (periodic ones, answers to requests)."""
        raise NotImplementedError

    def limits_frame(self, inputs: InverterInputs) -> Frame | None:
        """The protocol's limits frame now, out of its schedule (the site controller sends it
        at once when its limits fall); None: the protocol answers requests only."""
        return None
