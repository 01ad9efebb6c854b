"""Settings of what the master talks to besides its slaves: the VCU, a charger, an inverter
(`[endpoints]`) and the MQTT broker (`[mqtt]`)."""

from __future__ import annotations

from dataclasses import dataclass

from bms.config_loader import InvalidSettingError, setting

CHARGERS = ("none", "elcon")
INVERTERS = ("none", "can_bms", "byd_hvs", "pylon_hv")  # docs/endpoints.md#inverter
CHARGER_ADDRESSES = (0xE5, 0xE7, 0xE8, 0xE9)  # Elcon/TC: up to four chargers on one bus


@dataclass(frozen=True)
class EndpointSettings:
    vcu: bool = setting(True, doc="a VCU sends VcuRequest (and is monitored); false: the "
                                  "state request is request_without_vcu, or MQTT's")
    request_without_vcu: str = setting("standby", doc="standby, or drive: close the "
                                                      "contactors whenever the pack is healthy "
                                                      "(stationary storage)")
    charger: str = setting("none", doc="none, or elcon: an Elcon/TC charger on the vehicle "
                                       "bus (29-bit; set the vehicle bus bitrate it needs)")
    charger_address: int = setting(0xE5, minimum=0, maximum=255,
                                   doc="the charger's address: 0xE5, 0xE7, 0xE8 or 0xE9")
    charge_current_a: float = setting(0.0, minimum=0.0, maximum=2000.0,
                                      doc="constant-current phase; 0: 0.5 C")
    charge_target_soc_pct: float = setting(100.0, minimum=10.0, maximum=100.0,
                                           doc="the charge ends here (or on the taper)")
    charge_end_c: float = setting(0.05, above=0.0, maximum=1.0,
                                  doc="the charge ends when the current stays below this "
                                      "(C) at the charge voltage")
    inverter: str = setting("none", doc="none; can_bms: the SMA/Victron/Pylontech LV CAN-BMS "
                                        "protocol (48 V class); byd_hvs: BYD Battery-Box "
                                        "Premium HVS; pylon_hv: Pylontech HV (both HV class); "
                                        "on the inverter's bus ([bus.inverter])")
    inverter_timeout_s: float = setting(5.0, minimum=0.0, maximum=600.0,
                                        doc="no frame from the inverter this long is a "
                                            "warning; 0: not monitored")
    manufacturer: str = setting("PYLON", doc="up to 8 ASCII characters (can_bms 0x35E, "
                                             "pylon_hv 0x7330): hybrid inverters of the Deye "
                                             "kind look for PYLON")

    def __post_init__(self) -> None:
        if self.request_without_vcu not in ("standby", "drive"):
            raise InvalidSettingError("request_without_vcu", "must be standby or drive")
        if self.charger not in CHARGERS:
            raise InvalidSettingError("charger", f"must be one of {', '.join(CHARGERS)}")
        if self.charger_address not in CHARGER_ADDRESSES:
            raise InvalidSettingError("charger_address", "must be 0xE5, 0xE7, 0xE8 or 0xE9 "
                                                         "(229, 231, 232, 233)")
        if self.inverter not in INVERTERS:
            raise InvalidSettingError("inverter", f"must be one of {', '.join(INVERTERS)}")
        if len(self.manufacturer) > 8 or not self.manufacturer.isascii():
            raise InvalidSettingError("manufacturer", "up to 8 ASCII characters")


@dataclass(frozen=True)
class MqttSettings:
    enabled: bool = setting(False, doc="publish telemetry and events, take commands")
    host: str = setting("127.0.0.1")
    port: int = setting(1883, minimum=1, maximum=65535)
    username: str = setting("", doc="empty: anonymous")
    password_env: str = setting("BMS_MQTT_PASSWORD",
                                doc="the environment variable holding the password")
    tls_ca_file: str = setting("", doc="CA certificate: TLS to the broker; empty: plain TCP")
    prefix: str = setting("bms", doc="topics are <prefix>/<pack.name>/...")
    state_period_s: float = setting(1.0, minimum=0.1, maximum=3600.0,
                                    doc="state (durable), cells and limits (live)")
    outbox_max_state_messages: int = setting(
        604_800, minimum=60, maximum=100_000_000,
        doc="undelivered state messages kept through an outage (the oldest go first); "
            "events are never dropped")
    reconnect_min_s: float = setting(1.0, above=0.0, maximum=600.0)
    reconnect_max_s: float = setting(30.0, above=0.0, maximum=3600.0)
    home_assistant: bool = setting(False, doc="also publish Home Assistant MQTT discovery and "
                                              "a JSON state (docs/home-assistant.md)")
    home_assistant_prefix: str = setting("homeassistant",
                                         doc="Home Assistant's discovery prefix")

    def __post_init__(self) -> None:
        for key in ("prefix", "home_assistant_prefix"):
            value = getattr(self, key)
            if not value or any(c in value for c in "#+"):
                raise InvalidSettingError(key, "must be a topic level without wildcards")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise InvalidSettingError("reconnect_max_s", "must not be below reconnect_min_s")
