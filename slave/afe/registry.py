"""AFE backends by name: the value of ``slave.afe`` in the pack configuration."""

from __future__ import annotations

from collections.abc import Callable

from bms.errors import ConfigError
from bms.settings import Settings
from slave.afe.base import Afe
from slave.afe.sim import SimAfe

AfeFactory = Callable[[Settings, int, float], Afe]

AFE_BACKENDS: dict[str, AfeFactory] = {
    "sim": SimAfe,
}


def afe_problem(settings: Settings) -> str | None:
    """Why the configured AFE backend cannot be used, or None."""
    if settings.slave.afe in AFE_BACKENDS:
        return None
    known = ", ".join(sorted(AFE_BACKENDS))
    return f"slave.afe: unknown AFE backend {settings.slave.afe!r} (known: {known})"


def create_afe(settings: Settings, module_id: int, now_s: float) -> Afe:
    problem = afe_problem(settings)
    if problem is not None:
        raise ConfigError(problem)
    return AFE_BACKENDS[settings.slave.afe](settings, module_id, now_s)
