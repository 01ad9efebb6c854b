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


def create_afe(settings: Settings, module_id: int, now_s: float) -> Afe:
    name = settings.slave.afe
    factory = AFE_BACKENDS.get(name)
    if factory is None:
        known = ", ".join(sorted(AFE_BACKENDS))
        raise ConfigError(f"slave.afe: unknown AFE backend {name!r} (known: {known})")
    return factory(settings, module_id, now_s)
