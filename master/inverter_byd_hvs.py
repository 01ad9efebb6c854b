"""The battery side of BYD Battery-Box Premium HVS over CAN (docs/PROTOCOLS.md section 4b), an
HV-class protocol that most high-voltage hybrid inverters speak.

Handshake and timing, as both sources have it (Battery-Emulator BYD-CAN, SunshadeCorp
can-service): the battery stays silent until the inverter has sent a frame; then it sends
its identity once (0x250 version and capacity, 0x290, 0x2D0 "BYD", 0x3D0 "Battery-Box
Premium HVS" in four parts) and again whenever the inverter asks (0x151, byte 0 bit 0);
limits (0x110) every 2 s; states (0x150), battery values (0x1D0) and cell temperatures
(0x210) every 10 s. The protocol has no alarm frame anyone has decoded (0x190's content is
unknown and the sources disagree on it: not sent): a fault or a refused direction is a
current limit of 0 A. Limits within what an inverter certified for the HVS accepts.
"""

from __future__ import annotations

from bms.endpoint_settings import EndpointSettings
from bms.timing import Schedule
from dbc.frames import Frame
from dbc.inverter_byd_hvs_frames import (
    BydBatteryInfo,
    BydCellInfo,
    BydInverterIdentity,
    BydLimits,
    BydManufacturer,
    BydStates,
    BydUnknown290,
    BydVersion,
    product_name_frames,
)
from master.inverter_endpoint import (
    MV_PER_V,
    PCT,
    AcceptedRange,
    InverterEndpoint,
    InverterInputs,
    PackDescription,
)

LIMITS_PERIOD_S = 2.0  # dbc/inverter_byd_hvs.dbc GenMsgCycleTime of 0x110
STATES_PERIOD_S = 10.0  # of 0x150, 0x1D0, 0x210

# An HVS tower is 2 to 5 modules of 32 LFP cells (HVS 5.1 to 12.8); SunshadeCorp's captured
# HVS 5.1 sends 0x110 with 233.6 V and 160.0 V (64 x 3.65 V, 64 x 2.5 V), so its inverters
# take 64 x 2.5 = 160 V to 160 x 3.65 = 584 V (the upper bound derived, not captured). The
# currents stay within a signed 16-bit field (SunshadeCorp reads them signed).
BYD_HVS_ACCEPTED = AcceptedRange("HV class: a BYD HVS of 64 to 160 LFP cells",
                                 charge_voltage_v=(160.0, 584.0),
                                 discharge_voltage_v=(160.0, 584.0), current_max_a=3276.7)


def _ripe(schedule: Schedule, now_s: float) -> bool:
    return now_s >= schedule.next_s - schedule.period_s * 1e-6


class BydHvsEndpoint(InverterEndpoint):
    PROTOCOL = "byd_hvs"
    ACCEPTED = BYD_HVS_ACCEPTED

    def __init__(self, settings: EndpointSettings, pack: PackDescription, now_s: float) -> None:
        super().__init__(settings, pack, now_s)
        self.identity_pending = False
        self.identities_sent = 0
        self._limits: Schedule | None = None  # from the inverter's first frame on
        self._states: Schedule | None = None
        nominal_v = (pack.charge_voltage_v + pack.discharge_voltage_v) / 2
        self.version = BydVersion(round(pack.capacity_ah * nominal_v / MV_PER_V, 1))

    def on_frame(self, frame: Frame, now_s: float) -> None:
        if self.heard_at_s is None:  # awake: the identity first, then the periodic frames
            self.identity_pending = True
            self._limits = Schedule(LIMITS_PERIOD_S, now_s)
            self._states = Schedule(STATES_PERIOD_S, now_s)
        super().on_frame(frame, now_s)
        if isinstance(frame, BydInverterIdentity) and frame.identity_request:
            self.identity_pending = True

    def due(self, now_s: float) -> bool:
        if self._limits is None or self._states is None:
            return False  # silent until the inverter has spoken
        return self.identity_pending or _ripe(self._limits, now_s) or \
            _ripe(self._states, now_s)

    def limits_frame(self, inputs: InverterInputs) -> Frame | None:
        if self._limits is None:
            return None  # silent until the inverter has spoken
        limits = self.clamped(inputs)
        return BydLimits(limits.charge_voltage_v, limits.discharge_voltage_v,
                         limits.charge_current_a, limits.discharge_current_a)

    def frames(self, inputs: InverterInputs, now_s: float) -> list[Frame]:
        if self._limits is None or self._states is None:
            return []
        out: list[Frame] = []
        if self.identity_pending:
            self.identity_pending = False
            self.identities_sent += 1
            out += [self.version, BydUnknown290(), BydManufacturer(), *product_name_frames()]
        if self._limits.due(now_s):
            limits = self.clamped(inputs)
            out.append(BydLimits(limits.charge_voltage_v, limits.discharge_voltage_v,
                                 limits.charge_current_a, limits.discharge_current_a))
        if self._states.due(now_s):
            capacity = self.pack.capacity_ah
            coldest = inputs.min_temperature_degc
            if coldest is None:
                coldest = inputs.max_temperature_degc
            out += [
                BydStates(inputs.soc_pct, inputs.soh_pct,
                          capacity * inputs.soh_pct / PCT * inputs.soc_pct / PCT,
                          capacity * inputs.soh_pct / PCT),
                BydBatteryInfo(inputs.voltage_v, inputs.current_a,
                               (inputs.max_temperature_degc + coldest) / 2),
                BydCellInfo(inputs.max_temperature_degc, coldest),
            ]
        return out
