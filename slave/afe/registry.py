"""AFE backends by name: the value of ``slave.afe`` in the pack configuration."""

from __future__ import annotations

from collections.abc import Callable

from bms.errors import ConfigError
from bms.settings import Settings
from slave.afe.base import Afe

AfeFactory = Callable[[Settings, int, float], Afe]


def _sim(settings: Settings, module_id: int, now_s: float) -> Afe:
    # the only way from a slave to the simulator: a slave with a real AFE never loads it
    from slave.afe.sim import SimAfe

    return SimAfe(settings, module_id, now_s)


def _ltc(variant: str) -> AfeFactory:
    def create(settings: Settings, module_id: int, now_s: float) -> Afe:
        from slave.afe.ltc681x import Ltc681xAfe

        return Ltc681xAfe(settings, variant)
    return create


def _bq76952(settings: Settings, module_id: int, now_s: float) -> Afe:
    from slave.afe.bq76952 import Bq76952Afe

    return Bq76952Afe(settings)


AFE_BACKENDS: dict[str, AfeFactory] = {
    "sim": _sim,
    "ltc6811": _ltc("ltc6811"),
    "ltc6813": _ltc("ltc6813"),
    "bq76952": _bq76952,
}


def afe_problem(settings: Settings) -> str | None:
    """Why the configured AFE backend cannot measure this pack, or None."""
    name = settings.slave.afe
    if name not in AFE_BACKENDS:
        known = ", ".join(sorted(AFE_BACKENDS))
        return f"slave.afe: unknown AFE backend {name!r} (known: {known})"
    if name.startswith("ltc"):
        from slave.afe import ltc681x

        return ltc681x.problem(settings, name)
    if name == "bq76952":
        from slave.afe import bq76952

        return bq76952.problem(settings)
    return None


def create_afe(settings: Settings, module_id: int, now_s: float) -> Afe:
    problem = afe_problem(settings)
    if problem is not None:
        raise ConfigError(problem)
    return AFE_BACKENDS[settings.slave.afe](settings, module_id, now_s)
