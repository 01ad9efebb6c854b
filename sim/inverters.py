"""The simulated inverter of each protocol (endpoints.inverter), found by name."""

from __future__ import annotations

from bms.settings import Settings
from sim.inverter import CanBmsInverterSim, InverterSim
from sim.inverter_byd_hvs import BydHvsInverterSim
from sim.inverter_pylon_hv import PylonHvInverterSim

INVERTER_SIMS: dict[str, type[InverterSim]] = {
    "can_bms": CanBmsInverterSim, "byd_hvs": BydHvsInverterSim,
    "pylon_hv": PylonHvInverterSim}


def make_inverter_sim(settings: Settings, now_s: float) -> InverterSim:
    protocol = settings.endpoints.inverter
    sim = INVERTER_SIMS.get(protocol)
    if sim is None:
        raise ValueError(f"no simulated inverter for {protocol!r}: one of "
                         f"{', '.join(INVERTER_SIMS)}")
    return sim(settings, now_s)
