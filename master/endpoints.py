"""The master's peers besides the VCU: a charger on the vehicle bus and an inverter on its own
bus, as the configuration says ([endpoints]). Each second it sends the charger's command;
the inverter's frames when its protocol has them due (`INVERTER_ENDPOINTS`: one class per
protocol, found by name); it takes the charger's status and the inverter's frames, and
tells the diagnosis what it saw. `inverter_problem` is the configuration check of the
inverter's voltage class. Pure: the core calls it with the values it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from bms.chemistry import cell_capacity_ah
from bms.errors import ConfigError
from bms.settings import Settings
from dbc.charger_frames import DBC_ADDRESS, ElconStatus, readdress
from dbc.codec import CanFrame
from dbc.endpoint import FrameSender
from dbc.frames import Frame, MasterState
from master.charger_control import ChargeInputs, ChargePhase, ChargerControl
from master.diagnosis.limits import Limits, resolve_limits
from master.diagnosis.table import DiagId
from master.inverter_byd_hvs import BydHvsEndpoint
from master.inverter_can_bms import CanBmsEndpoint
from master.inverter_endpoint import (
    InverterEndpoint,
    InverterInputs,
    PackDescription,
    voltage_problem,
)
from master.inverter_pylon_hv import PylonHvEndpoint
from master.pack_state import Extreme

MV_PER_V = 1000.0

# endpoints.inverter -> the battery side of that protocol (docs/endpoints.md#inverter)
INVERTER_ENDPOINTS: dict[str, type[InverterEndpoint]] = {
    "can_bms": CanBmsEndpoint, "byd_hvs": BydHvsEndpoint, "pylon_hv": PylonHvEndpoint}


def inverter_class(protocol: str) -> type[InverterEndpoint]:
    try:
        return INVERTER_ENDPOINTS[protocol]
    except KeyError:
        raise ConfigError(f"endpoints.inverter: unknown protocol {protocol!r}, one of "
                          f"{', '.join(INVERTER_ENDPOINTS)}") from None


def pack_description(settings: Settings, limits: Limits) -> PackDescription:
    pack = settings.pack
    return PackDescription(pack.cells, pack.modules, pack.cells_per_module,
                           pack.chemistry.value.lower(), cell_capacity_ah(settings),
                           pack.cells * limits.cell_overvoltage_mv.operating / MV_PER_V,
                           pack.cells * limits.cell_undervoltage_mv.operating / MV_PER_V,
                           pack.temperature_sensors_per_module)


def inverter_problem(settings: Settings, limits: Limits | None = None) -> str | None:
    """Why the configured inverter protocol does not fit this pack's voltage (the
    configuration check of `bms master`, `bms config` and `bms pack`); None when it does."""
    protocol = settings.endpoints.inverter
    if protocol == "none":
        return None
    endpoint = inverter_class(protocol)
    return voltage_problem(protocol, endpoint.ACCEPTED,
                           pack_description(settings, limits or resolve_limits(settings)))


@dataclass(frozen=True)
class EndpointInputs:
    state: MasterState
    contactors_closed: bool
    fatal: tuple[DiagId, ...]
    warnings: tuple[DiagId, ...]
    charge_limit_a: float
    discharge_limit_a: float
    voltage_v: float
    current_a: float
    max_temperature_degc: float
    soc_max: float | None  # 0..1
    soc_pct: float
    soh_pct: float
    # the pack at the charge ceiling (the core's voltage window, a calibration charge's
    # during one): what the inverter is told; None, the inverter endpoint's own
    charge_voltage_v: float | None = None
    # what the HV protocols also tell (cell and module extremes)
    min_temperature_degc: float | None = None
    highest_cell_mv: Extreme | None = None
    lowest_cell_mv: Extreme | None = None
    hottest_degc: Extreme | None = None
    coldest_degc: Extreme | None = None
    module_voltages_v: tuple[float | None, ...] = ()


CHARGER_STOPS = frozenset({DiagId.CHARGER_HARDWARE_FAILURE, DiagId.CHARGER_OVERTEMPERATURE,
                           DiagId.CHARGER_INPUT_VOLTAGE, DiagId.CHARGER_BATTERY_NOT_DETECTED,
                           DiagId.CHARGER_COMMUNICATION_TIMEOUT, DiagId.CHARGER_LOST})


class Endpoints:
    def __init__(self, settings: Settings, limits: Limits, now_s: float) -> None:
        e = settings.endpoints
        self.settings = e
        capacity_ah = cell_capacity_ah(settings)
        cells = settings.pack.cells
        self.charger = ChargerControl(e, capacity_ah, cells,
                                      limits.cell_overvoltage_mv.operating, now_s) \
            if e.charger != "none" else None
        self.inverter: InverterEndpoint | None = None
        if e.inverter != "none":
            problem = inverter_problem(settings, limits)
            if problem is not None:
                raise ConfigError(problem)
            self.inverter = inverter_class(e.inverter)(
                e, pack_description(settings, limits), now_s)
        self._last_state: MasterState | None = None

    @property
    def charge_complete(self) -> bool:
        return self.charger is not None and self.charger.phase is ChargePhase.COMPLETE

    def received_id(self, frame: CanFrame) -> CanFrame:
        """A frame of the charger at the configured address, with the id the DBC knows."""
        if self.charger is None or self.settings.charger_address == DBC_ADDRESS:
            return frame
        return frame._replace(arbitration_id=readdress(
            frame.arbitration_id, self.settings.charger_address, DBC_ADDRESS))

    def on_frame(self, decoded: Frame, now_s: float) -> None:
        """A frame of the vehicle bus (the charger's status)."""
        if isinstance(decoded, ElconStatus) and self.charger is not None:
            self.charger.on_status(decoded, now_s)

    def on_inverter_frame(self, decoded: Frame, now_s: float) -> None:
        """A frame of the inverter's bus: the inverter is alive; a request to answer."""
        if self.inverter is not None:
            self.inverter.on_frame(decoded, now_s)

    def inverter_due(self, now_s: float) -> bool:
        return self.inverter is not None and self.inverter.due(now_s)

    def observations(self, now_s: float, state: MasterState) -> list[tuple[DiagId, bool]]:
        observed = []
        if self.charger is not None:
            observed += self.charger.observations(now_s, charging=state is MasterState.CHARGE)
        if self.inverter is not None:
            observed.append((DiagId.INVERTER_LOST, self.inverter.lost(now_s)))
        return observed

    def frames(self, now_s: float, inputs: EndpointInputs, sender: FrameSender) -> list[CanFrame]:
        """This second's frames of the vehicle bus, encoded (the charger's at its address)."""
        if inputs.state is not self._last_state:
            if self.charger is not None and inputs.state is not MasterState.CHARGE:
                self.charger.rearm()
            self._last_state = inputs.state
        healthy = inputs.contactors_closed and not inputs.fatal
        out: list[CanFrame] = []
        if self.charger is not None:
            allowed = healthy and inputs.state is MasterState.CHARGE and \
                inputs.soc_max is not None and not CHARGER_STOPS.intersection(inputs.warnings)
            command = self.charger.command(now_s, ChargeInputs(
                allowed, inputs.charge_limit_a, inputs.voltage_v, inputs.current_a,
                inputs.soc_max or 0.0))
            frame = sender.encode(command)
            out.append(frame._replace(arbitration_id=readdress(
                frame.arbitration_id, DBC_ADDRESS, self.settings.charger_address)))
        return out

    def inverter_frames(self, now_s: float, inputs: EndpointInputs,
                        sender: FrameSender) -> list[CanFrame]:
        """The inverter's frames due now, encoded for its bus."""
        if self.inverter is None:
            return []
        if inputs.charge_voltage_v is not None:
            self.inverter.charge_voltage_v = inputs.charge_voltage_v
        if inputs.soc_max is None:  # nothing before the first estimate: an inverter reads
            return []  # SOC 0 as "force charge"
        healthy = inputs.contactors_closed and not inputs.fatal
        return [sender.encode(f) for f in self.inverter.frames(InverterInputs(
            charge_allowed=healthy and inputs.state in (MasterState.NORMAL, MasterState.CHARGE),
            discharge_allowed=healthy and inputs.state is MasterState.NORMAL,
            charge_limit_a=inputs.charge_limit_a,
            discharge_limit_a=inputs.discharge_limit_a,
            voltage_v=inputs.voltage_v, current_a=inputs.current_a,
            max_temperature_degc=inputs.max_temperature_degc,
            soc_pct=inputs.soc_pct, soh_pct=inputs.soh_pct,
            fatal=inputs.fatal, warnings=inputs.warnings,
            min_temperature_degc=inputs.min_temperature_degc,
            highest_cell_mv=inputs.highest_cell_mv, lowest_cell_mv=inputs.lowest_cell_mv,
            hottest_degc=inputs.hottest_degc, coldest_degc=inputs.coldest_degc,
            module_voltages_v=inputs.module_voltages_v), now_s)]
