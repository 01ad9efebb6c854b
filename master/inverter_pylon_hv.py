"""The battery side of Pylontech HV CAN (docs/PROTOCOLS.md section 4c), an HV-class protocol:
the battery only answers.

The inverter asks with 0x4200 (byte 0: 0 the ensemble information, 2 the system equipment
information); the battery answers at its next tick (within the master's tick period) with
0x4210 status, 0x4220 limits, 0x4230/0x4240 cell extremes, 0x4250 basic status and flags,
0x4260/0x4270 module extremes, 0x4280 charge/discharge forbidden marks and 0x4290 fault
extension, or with 0x7310 versions, 0x7320 cell and module counts, 0x7330/0x7340 the
manufacturer. Fatal entries are protections, warnings alarms; a refused direction is 0 A
and its forbidden mark (0xAA).
"""

from __future__ import annotations

from typing import Final

from bms.endpoint_settings import EndpointSettings
from dbc.frames import Frame
from dbc.inverter_pylon_hv_frames import (
    PylonHvAlarms,
    PylonHvBasicStatus,
    PylonHvCellTemperatures,
    PylonHvCellVoltages,
    PylonHvFaultExtension,
    PylonHvForbidden,
    PylonHvLimits,
    PylonHvManufacturer,
    PylonHvManufacturer2,
    PylonHvModules,
    PylonHvModuleTemperatures,
    PylonHvModuleVoltages,
    PylonHvRequest,
    PylonHvRequestKind,
    PylonHvStatus,
    PylonHvVersion,
)
from master.diagnosis.table import DiagId
from master.inverter_endpoint import (
    MV_PER_V,
    AcceptedRange,
    InverterEndpoint,
    InverterInputs,
    PackDescription,
)
from master.pack_state import Extreme

IDLE_BAND_A: Final = 0.5  # 0x4250: a smaller current is idle, not charge or discharge

# The protocol carries 0-6553.5 V; the HV class bounds are this project's: below 100 V a pack
# belongs to the 48 V class (whose protocols end at 63 V), and home inverters stay under the
# 1000 V DC of the Low Voltage Directive. Currents: the offset is 3000 A.
PYLON_HV_ACCEPTED = AcceptedRange("HV class: 100-1000 V", charge_voltage_v=(100.0, 1000.0),
                                  discharge_voltage_v=(100.0, 1000.0), current_max_a=3000.0)

# diagnosis entries onto the 0x4250 alarm / protection names (the others: errors)
_FLAG_BY_PREFIX = (
    ("CELL_OVERVOLTAGE", "CellHighVoltage"), ("CELL_UNDERVOLTAGE", "CellLowVoltage"),
    ("DEEP_DISCHARGE", "CellLowVoltage"),
    ("DISCHARGE_OVERTEMPERATURE", "DischargeHighTemperature"),
    ("DISCHARGE_UNDERTEMPERATURE", "DischargeLowTemperature"),
    ("CHARGE_OVERTEMPERATURE", "ChargeHighTemperature"),
    ("CHARGE_UNDERTEMPERATURE", "ChargeLowTemperature"),
    ("DISCHARGE_OVERCURRENT", "DischargeOvercurrent"),
    ("CHARGE_OVERCURRENT", "ChargeOvercurrent"),
)
_ERROR_BY_PREFIX = (("CONTACTOR", "RelayCheck"), ("PRECHARGE", "RelayCheck"),
                    ("SLAVE", "InternalCommunication"), ("MEASUREMENT", "VoltageSensor"))


def pylon_hv_flag(entry: DiagId) -> str | None:
    """The alarm / protection name of a diagnosis entry; None: it has none."""
    for prefix, flag in _FLAG_BY_PREFIX:
        if entry.name.startswith(prefix):
            return flag
    return None


def pylon_hv_error(entry: DiagId) -> str:
    for prefix, error in _ERROR_BY_PREFIX:
        if entry.name.startswith(prefix):
            return error
    return "Other"


def _number(extreme: Extreme | None, per_module: int) -> int:
    return extreme.module_id * per_module + extreme.index if extreme is not None else 0


class PylonHvEndpoint(InverterEndpoint):
    PROTOCOL = "pylon_hv"
    ACCEPTED = PYLON_HV_ACCEPTED

    def __init__(self, settings: EndpointSettings, pack: PackDescription, now_s: float) -> None:
        super().__init__(settings, pack, now_s)
        self.pending: set[PylonHvRequestKind] = set()
        self.answered: dict[PylonHvRequestKind, int] = {}
        nominal_v = (pack.charge_voltage_v + pack.discharge_voltage_v) / 2
        self.equipment: list[Frame] = [
            PylonHvVersion(),
            PylonHvModules(pack.cells, pack.modules, pack.cells_per_module, round(nominal_v),
                           round(pack.capacity_ah)),
            PylonHvManufacturer(settings.manufacturer),
            PylonHvManufacturer2(),
        ]

    def on_frame(self, frame: Frame, now_s: float) -> None:
        super().on_frame(frame, now_s)
        if isinstance(frame, PylonHvRequest):
            self.pending.add(frame.request)

    def due(self, now_s: float) -> bool:
        return bool(self.pending)

    def frames(self, inputs: InverterInputs, now_s: float) -> list[Frame]:
        out: list[Frame] = []
        for kind in sorted(self.pending):
            self.answered[kind] = self.answered.get(kind, 0) + 1
            out += self.ensemble(inputs) if kind is PylonHvRequestKind.ENSEMBLE_INFORMATION \
                else self.equipment
        self.pending.clear()
        return out

    def ensemble(self, inputs: InverterInputs) -> list[Frame]:
        """The answer to 0x4200 byte 0 = 0: 0x4210 to 0x4290."""
        limits = self.clamped(inputs)
        cells, sensors = self.pack.cells_per_module, self.pack.sensors_per_module
        high, low = inputs.highest_cell_mv, inputs.lowest_cell_mv
        hot, cold = inputs.hottest_degc, inputs.coldest_degc
        hot_degc = hot.value if hot is not None else inputs.max_temperature_degc
        cold_degc = cold.value if cold is not None else hot_degc
        modules = [(v, m) for m, v in enumerate(inputs.module_voltages_v) if v is not None]
        top = max(modules, default=(0.0, 0))
        bottom = min(modules, default=(0.0, 0))
        return [
            PylonHvStatus(inputs.voltage_v, inputs.current_a, inputs.max_temperature_degc,
                          round(inputs.soc_pct), round(inputs.soh_pct)),
            PylonHvLimits(limits.charge_voltage_v, limits.discharge_voltage_v,
                          limits.charge_current_a, limits.discharge_current_a),
            PylonHvCellVoltages(round(high.value) if high else 0, round(low.value) if low else 0,
                                _number(high, cells), _number(low, cells)),
            PylonHvCellTemperatures(hot_degc, cold_degc, _number(hot, sensors),
                                    _number(cold, sensors)),
            self.alarms(inputs),
            PylonHvModuleVoltages(round(top[0] * MV_PER_V), round(bottom[0] * MV_PER_V),
                                  top[1], bottom[1]),
            PylonHvModuleTemperatures(hot_degc, cold_degc, hot.module_id if hot else 0,
                                      cold.module_id if cold else 0),
            PylonHvForbidden(charge_forbidden=limits.charge_current_a <= 0,
                             discharge_forbidden=limits.discharge_current_a <= 0),
            PylonHvFaultExtension(),
        ]

    def alarms(self, inputs: InverterInputs) -> PylonHvAlarms:
        if inputs.fatal:
            status = PylonHvBasicStatus.SLEEP
        elif inputs.current_a > IDLE_BAND_A:
            status = PylonHvBasicStatus.CHARGE
        elif inputs.current_a < -IDLE_BAND_A:
            status = PylonHvBasicStatus.DISCHARGE
        else:
            status = PylonHvBasicStatus.IDLE
        protections = {pylon_hv_flag(e) for e in inputs.fatal}
        errors = frozenset(pylon_hv_error(e) for e in inputs.fatal if pylon_hv_flag(e) is None)
        alarms = {pylon_hv_flag(e) for e in inputs.warnings}
        return PylonHvAlarms(status, errors, frozenset(a for a in alarms if a is not None),
                             frozenset(p for p in protections if p is not None))
