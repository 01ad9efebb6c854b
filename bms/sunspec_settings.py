"""Settings of `bms sunspec` (`[sunspec]`): the SunSpec Modbus TCP server for site
controllers (docs/sunspec.md). The broker it reads is the pack's `[mqtt]` (host, port, TLS,
prefix) with its own read-only user; with controls on, commands go out as the operator."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from bms.config_loader import InvalidSettingError, setting

# where SunSpec clients look for the "SunS" marker (SunSpec Information Model Specification)
BASE_ADDRESSES = (0, 40000, 50000)


@dataclass(frozen=True)
class SunSpecSettings:
    listen: str = setting("127.0.0.1", doc="the address the Modbus TCP server listens on")
    port: int = setting(5020, minimum=0, maximum=65535,
                        doc="Modbus TCP port (502, the standard one, needs root or "
                            "CAP_NET_BIND_SERVICE); 0: any free port (printed)")
    unit_id: int = setting(1, minimum=1, maximum=247, doc="the Modbus unit id it answers to")
    base_address: int = setting(40000, minimum=0, maximum=50000,
                                doc="where the SunSpec map starts: 40000, 0 or 50000")
    pack: str = setting("", doc="the pack to serve (its topics under [mqtt] prefix); "
                                "empty: pack.name")
    stale_after_s: float = setting(5.0, minimum=1.0, maximum=600.0,
                                   doc="a topic older than this is unknown: its points read "
                                       "not implemented, the current limits 0 A")
    controls: bool = setting(False, doc="take writes of model 802's SetOp, AlmRst, "
                                        "SetInvState and CtrlHb (docs/sunspec.md#controls); "
                                        "false: every write is refused")
    controls_off_loopback: bool = setting(
        False, doc="take them on an address other than loopback too (Modbus TCP has no "
                   "authentication: whoever reaches the port may write)")
    mqtt_username: str = setting("monitor", doc="the broker user it reads as")
    mqtt_password_env: str = setting("BMS_MONITOR_PASSWORD",
                                     doc="the environment variable holding its password")
    operator_username: str = setting("operator", doc="the broker user controls are sent as")
    operator_password_env: str = setting("BMS_OPERATOR_PASSWORD",
                                         doc="the environment variable holding its password")

    def __post_init__(self) -> None:
        if any(c in self.pack for c in "/+#") or len(self.pack) > 64:
            raise InvalidSettingError("pack", "a pack name: one topic level, no wildcards")
        if self.base_address not in BASE_ADDRESSES:
            raise InvalidSettingError("base_address", "must be 40000, 0 or 50000")
        try:
            address = ipaddress.ip_address(self.listen)
        except ValueError:
            raise InvalidSettingError("listen", "must be an IP address") from None
        if self.controls and not address.is_loopback and not self.controls_off_loopback:
            raise InvalidSettingError(
                "controls", f"{self.listen} is not loopback: anyone who reaches it could "
                            "write; set controls_off_loopback = true to take that")
