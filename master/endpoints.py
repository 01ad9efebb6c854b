"""The master's peers on the vehicle bus besides the VCU: a charger and an inverter, as the
configuration says ([endpoints]). Each second it sends the charger's command and the
inverter's frames; it takes the charger's status and the inverter's keep-alive, and tells
the diagnosis what it saw. Pure: the core calls it with the values it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from bms.chemistry import cell_capacity_ah
from bms.settings import Settings
from dbc.charger_frames import DBC_ADDRESS, ElconStatus, readdress
from dbc.codec import CanFrame
from dbc.endpoint import FrameSender
from dbc.frames import Frame, MasterState
from dbc.inverter_frames import InverterKeepAlive
from master.charger_control import ChargeInputs, ChargePhase, ChargerControl
from master.diagnosis.limits import Limits
from master.diagnosis.table import DiagId
from master.inverter_endpoint import InverterEndpoint, InverterInputs


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
        self.inverter = InverterEndpoint(
            e, cells, settings.pack.modules, settings.pack.chemistry.value.lower(),
            capacity_ah, limits.cell_overvoltage_mv.operating,
            limits.cell_undervoltage_mv.operating, now_s) if e.inverter != "none" else None
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
        if isinstance(decoded, ElconStatus) and self.charger is not None:
            self.charger.on_status(decoded, now_s)
        elif isinstance(decoded, InverterKeepAlive) and self.inverter is not None:
            self.inverter.on_keep_alive(now_s)

    def observations(self, now_s: float, state: MasterState) -> list[tuple[DiagId, bool]]:
        observed = []
        if self.charger is not None:
            observed += self.charger.observations(now_s, charging=state is MasterState.CHARGE)
        if self.inverter is not None:
            observed.append((DiagId.INVERTER_LOST, self.inverter.lost(now_s)))
        return observed

    def frames(self, now_s: float, inputs: EndpointInputs, sender: FrameSender) -> list[CanFrame]:
        """This second's frames, encoded (the charger's at its address)."""
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
        if self.inverter is not None and inputs.soc_max is not None:
            # nothing before the first estimate: an inverter reads SOC 0 as "force charge"
            out += [sender.encode(f) for f in self.inverter.frames(InverterInputs(
                charge_allowed=healthy and inputs.state in (MasterState.NORMAL,
                                                            MasterState.CHARGE),
                discharge_allowed=healthy and inputs.state is MasterState.NORMAL,
                charge_limit_a=inputs.charge_limit_a,
                discharge_limit_a=inputs.discharge_limit_a,
                voltage_v=inputs.voltage_v, current_a=inputs.current_a,
                max_temperature_degc=inputs.max_temperature_degc,
                soc_pct=inputs.soc_pct, soh_pct=inputs.soh_pct,
                fatal=inputs.fatal, warnings=inputs.warnings))]
        return out
