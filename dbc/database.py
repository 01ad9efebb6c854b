"""Loading the DBC files of the project: the only place that opens them.

Every database is loaded by cantools in strict mode (imported only here, when a file is
parsed: a running node reads the cached form of `dbc.cached` instead). Messages sent by
one node per module carry the custom attribute ``ModuleIdRange`` (N: the node sends on base
id + module id, module id 0..N-1); the frame-id mask that cantools applies at lookup is
derived from it.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from dbc.errors import ContractError

PACK_DBC = "pack.dbc"
IVT_DBC = "ivt_s.dbc"
VEHICLE_DBC = "vehicle.dbc"
INVERTER_DBC = "inverter.dbc"
CHARGER_DBC = "charger_elcon.dbc"
SIM_DBC = "sim.dbc"
PACK_BUS_DBCS = (PACK_DBC, IVT_DBC)
VEHICLE_BUS_DBCS = (VEHICLE_DBC, CHARGER_DBC)
# the inverter's bus speaks one of these protocols (endpoints.inverter), each a DBC of its own
INVERTER_DBCS = {"can_bms": INVERTER_DBC, "byd_hvs": "inverter_byd_hvs.dbc",
                 "pylon_hv": "inverter_pylon_hv.dbc"}
INVERTER_BUS_DBCS = tuple(INVERTER_DBCS.values())
THIRD_PARTY_DBCS = (IVT_DBC, CHARGER_DBC, *INVERTER_BUS_DBCS)  # others' protocols: no E2E
SIM_BUS_DBCS = (SIM_DBC,)
ALL_DBCS = PACK_BUS_DBCS + VEHICLE_BUS_DBCS + INVERTER_BUS_DBCS + SIM_BUS_DBCS
MODULE_ID_RANGE_ATTRIBUTE = "ModuleIdRange"
FULL_STANDARD_MASK = 0x7FF
FULL_EXTENDED_MASK = 0x1FFFFFFF


def dbc_path(name: str) -> Path:
    """Path of a DBC file shipped in this package."""
    return Path(str(resources.files("dbc").joinpath(name)))


def module_id_range(message: Any) -> int:
    """How many module ids a message spans (0: a single sender on the base id)."""
    from dbc.cached import MessageForm

    if isinstance(message, MessageForm):
        return message.module_id_range
    attributes = message.dbc.attributes if message.dbc is not None else {}
    attribute = attributes.get(MODULE_ID_RANGE_ATTRIBUTE)
    return int(attribute.value) if attribute is not None else 0


def _frame_id_mask(db: Any) -> int:
    span = max((module_id_range(m) for m in db.messages), default=0)
    if span == 0:
        return FULL_EXTENDED_MASK
    if span & (span - 1):
        raise ContractError(f"{MODULE_ID_RANGE_ATTRIBUTE} must be a power of two, got {span}")
    return FULL_EXTENDED_MASK & ~(span - 1)


def load_file(path: Path) -> Any:
    """Load one DBC file strictly, with the frame-id mask its module ranges need."""
    import cantools.database
    from cantools.database.errors import Error as CantoolsError

    try:
        plain = cantools.database.load_file(path, database_format="dbc", strict=True)
        mask = _frame_id_mask(plain)
        if mask == FULL_EXTENDED_MASK:
            return plain
        return cantools.database.load_file(
            path, database_format="dbc", strict=True, frame_id_mask=mask
        )
    except (OSError, CantoolsError) as exc:
        raise ContractError(f"cannot load {path}: {exc}") from exc


@functools.cache
def load_database(name: str) -> Any:
    """A shipped DBC file by name (``pack.dbc``, ``ivt_s.dbc``), loaded once per process."""
    return load_file(dbc_path(name))
