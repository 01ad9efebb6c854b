"""Settings of `bms site` (`[site]`): the packs in parallel on one DC bus that the site
controller presents to one inverter as one battery (docs/site.md). The broker it reads is
the configuration's `[mqtt]` (host, port, TLS, the packs' prefix) with the site's own user;
`[pack]` describes the packs' common shape (cells in series, chemistry, capacity of a cell),
`[endpoints] inverter` the site inverter's protocol and `[bus.inverter]` its bus."""

from __future__ import annotations

from dataclasses import dataclass

from bms.config_loader import InvalidSettingError, setting

FIRST_PACKS = ("most_joinable", "lowest", "highest")


@dataclass(frozen=True)
class SiteSettings:
    name: str = setting("site-1", doc="the site's name: its telemetry is "
                                      "<site.prefix>/<site.name>/state")
    packs: tuple[str, ...] = setting((), doc="the packs' names (their pack.name): the site "
                                             "reads <mqtt.prefix>/<pack>/...")
    prefix: str = setting("site", doc="the site's own telemetry prefix (not the packs': no "
                                      "dashboard takes the site for a pack)")
    period_s: float = setting(1.0, minimum=0.05, maximum=60.0,
                              doc="how often the site decides and publishes")
    join_voltage_v: float = setting(
        0.8, above=0.0, maximum=50.0,
        doc="a pack closes onto the live bus only within this of the bus voltage; below the "
            "packs' contactors.precharge_voltage_threshold_v (docs/site.md: the inrush)")
    join_timeout_s: float = setting(30.0, above=0.0, maximum=600.0,
                                    doc="a requested pack not connected after this is named "
                                        "and another may try")
    pack_timeout_s: float = setting(5.0, above=0.0, maximum=600.0,
                                    doc="a connected pack silent this long: 0 A both ways "
                                        "and a warning, until it is heard again")
    margin_pct: float = setting(5.0, minimum=0.0, maximum=50.0,
                                doc="each pack's limits are used less this: the share "
                                    "follows estimated resistances")
    ramp_pct_per_s: float = setting(10.0, above=0.0, maximum=1000.0,
                                    doc="the site's limits rise at most this share of the "
                                        "connected packs' own limits a second (they fall at "
                                        "once)")
    steer: bool = setting(True, doc="while packs wait outside the window, allow only the "
                                    "direction that brings the bus to the nearest of them")
    first: str = setting("most_joinable", doc="the first pack on a dead bus: most_joinable "
                                              "(the one the most others could join), lowest "
                                              "or highest voltage")
    retry_s: float = setting(5.0, above=0.0, maximum=600.0,
                             doc="a request the pack has not followed is sent again")
    mqtt_username: str = setting("site", doc="the broker user the site reads and commands as")
    mqtt_password_env: str = setting("BMS_SITE_PASSWORD",
                                     doc="the environment variable holding its password")

    def __post_init__(self) -> None:
        if len(set(self.packs)) != len(self.packs):
            raise InvalidSettingError("packs", "a pack is named twice")
        for name in (*self.packs, self.name, self.prefix):
            if not name or any(c in name for c in "#+/"):
                raise InvalidSettingError("packs" if name in self.packs else "name",
                                          f"{name!r}: not empty, no '#', '+' or '/'")
        if self.first not in FIRST_PACKS:
            raise InvalidSettingError("first", f"one of {', '.join(FIRST_PACKS)}")
