"""The site's inverter: the battery side of one of the project's inverter protocols
(master/inverter_*.py, the same clamping to what its inverters accept) fed with the site's
report and limits instead of a pack's. When a limit falls, the protocol's limits frame goes
out at once, not at its next period. Pure: the core feeds it and sends what it returns."""

from __future__ import annotations

import dataclasses
from typing import Final

from bms.settings import Settings
from dbc.frames import Frame
from master.endpoints import inverter_class
from master.inverter_endpoint import InverterEndpoint, InverterInputs, PackDescription
from master.pack_state import Extreme as ModuleExtreme
from sitectl.packs import Extreme
from sitectl.report import SiteReport

FALL_TO_SEND_A: Final = 0.5  # a limit falling by more than this goes to the inverter at once
NOMINAL_TEMPERATURE_DEGC: Final = 25.0  # before any pack has told its cells' temperatures


class SiteInverter:
    def __init__(self, settings: Settings, pack: PackDescription, now_s: float) -> None:
        self.settings = settings
        self.pack = pack
        protocol = settings.endpoints.inverter
        # the site as one battery: every pack's capacity
        site = dataclasses.replace(pack, capacity_ah=pack.capacity_ah
                                   * max(1, len(settings.site.packs)))
        self.endpoint: InverterEndpoint | None = None if protocol == "none" else \
            inverter_class(protocol)(settings.endpoints, site, now_s)
        self._sent_limits_a: tuple[float, float] | None = None
        self._last_soc_pct: float | None = None

    def on_frame(self, frame: Frame, now_s: float) -> None:
        if self.endpoint is not None:
            self.endpoint.on_frame(frame, now_s)

    def _inputs(self, report: SiteReport, limits_a: tuple[float, float]) -> InverterInputs | None:
        if report.soc_pct is not None:
            self._last_soc_pct = report.soc_pct
        # no pack connected (or none heard): the packs' SOC as last known, with 0 A
        soc_pct = report.soc_pct if report.soc_pct is not None else self._last_soc_pct
        if soc_pct is None:
            return None  # nothing before an SOC: an inverter reads SOC 0 as "force charge"
        packs = {name: i for i, name in enumerate(self.settings.site.packs)}
        modules = self.settings.pack.modules

        def module_extreme(extreme: Extreme | None) -> ModuleExtreme | None:
            """A site-wide module number: the pack's place times its modules, plus its."""
            return None if extreme is None else ModuleExtreme(
                extreme.value, packs[extreme.pack] * modules + extreme.module, extreme.index)

        voltages, temperatures = report.cell_voltage_mv, report.temperature_degc
        charge_a, discharge_a = limits_a
        return InverterInputs(
            charge_allowed=charge_a > 0, discharge_allowed=discharge_a > 0,
            charge_limit_a=charge_a, discharge_limit_a=discharge_a,
            voltage_v=report.voltage_v or 0.0, current_a=report.current_a,
            max_temperature_degc=temperatures[0].value if temperatures
            else NOMINAL_TEMPERATURE_DEGC,
            soc_pct=soc_pct, soh_pct=report.soh_pct if report.soh_pct is not None else 100.0,
            fatal=(), warnings=(),
            min_temperature_degc=temperatures[1].value if temperatures else None,
            highest_cell_mv=module_extreme(voltages[0] if voltages else None),
            lowest_cell_mv=module_extreme(voltages[1] if voltages else None),
            hottest_degc=module_extreme(temperatures[0] if temperatures else None),
            coldest_degc=module_extreme(temperatures[1] if temperatures else None))

    def frames(self, report: SiteReport, limits_a: tuple[float, float],
               now_s: float) -> list[Frame]:
        """The frames due now, and the limits frame at once when a limit fell."""
        endpoint = self.endpoint
        inputs = self._inputs(report, limits_a) if endpoint is not None else None
        if endpoint is None or inputs is None:
            return []
        if report.voltage_max_v is not None:
            endpoint.charge_voltage_v = min(self.pack.charge_voltage_v, report.voltage_max_v)
        out: list[Frame] = []
        sent = self._sent_limits_a
        if sent is not None and (limits_a[0] < sent[0] - FALL_TO_SEND_A
                                 or limits_a[1] < sent[1] - FALL_TO_SEND_A):
            frame = endpoint.limits_frame(inputs)
            if frame is not None:
                out.append(frame)
                self._sent_limits_a = limits_a
        if endpoint.due(now_s):
            out += endpoint.frames(inputs, now_s)
            self._sent_limits_a = limits_a
        return out
