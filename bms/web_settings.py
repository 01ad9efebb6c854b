"""Settings of `bms web` (`[web]`): the dashboard's server, its logins, its history and its
alarms. The broker it reads is the pack's `[mqtt]` (host, port, TLS, prefix) with the web's
own read-only user; commands go out as the operator user."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from bms.config_loader import InvalidSettingError, setting

SEVERITIES = ("fatal", "warning")


@dataclass(frozen=True)
class AlarmRoute:
    """Where the diagnosis entries of some severities are told (any apprise URL)."""

    severities: tuple[str, ...] = setting(SEVERITIES, doc="fatal, warning: which entries")
    urls: tuple[str, ...] = setting((), doc="apprise URLs: mailto://, json://, ntfy://, "
                                            "tgram://, ... (docs/alarms.md)")
    min_interval_s: float = setting(300.0, minimum=0.0, maximum=86_400.0,
                                    doc="per pack, entry and place: a repeat sooner than this "
                                        "is held back and counted in the next message")
    clears: bool = setting(True, doc="also say when the entry clears")

    def __post_init__(self) -> None:
        unknown = [s for s in self.severities if s not in SEVERITIES]
        if unknown or not self.severities:
            raise InvalidSettingError("severities", f"one or more of {', '.join(SEVERITIES)}")
        if not self.urls:
            raise InvalidSettingError("urls", "at least one apprise URL")


@dataclass(frozen=True)
class WebSettings:
    listen: str = setting("127.0.0.1", doc="the address the dashboard serves on")
    port: int = setting(8080, minimum=0, maximum=65535, doc="0: any free port (printed)")
    tls_cert_file: str = setting("", doc="certificate (PEM): HTTPS; empty: plain HTTP")
    tls_key_file: str = setting("", doc="its private key (PEM)")
    plain_http_off_loopback: bool = setting(
        False, doc="serve plain HTTP on an address other than loopback (passwords and "
                   "sessions then cross the network readable)")
    users_file: str = setting("", doc="logins (bms web user add); empty: nobody can log in, "
                                      "the commands are off")
    login_to_view: bool = setting(False, doc="viewing also needs a login")
    session_idle_s: float = setting(1800.0, minimum=60.0, maximum=86_400.0,
                                    doc="a session unused this long ends")
    session_max_s: float = setting(43_200.0, minimum=60.0, maximum=30 * 86_400.0,
                                   doc="a session ends this long after its login")
    history_path: str = setting("bms-web.sqlite", doc="the history database (SQLite)")
    history_full_s: float = setting(86_400.0, minimum=600.0, maximum=30 * 86_400.0,
                                    doc="history kept at full resolution this long")
    history_coarse_s: float = setting(60.0, minimum=5.0, maximum=3600.0,
                                      doc="older history: one sample per this many seconds")
    history_days: float = setting(30.0, minimum=1.0, maximum=3650.0,
                                  doc="history older than this is deleted")
    mqtt_username: str = setting("monitor", doc="the broker user the dashboard reads as")
    mqtt_password_env: str = setting("BMS_MONITOR_PASSWORD",
                                     doc="the environment variable holding its password")
    operator_username: str = setting("operator", doc="the broker user commands are sent as")
    operator_password_env: str = setting("BMS_OPERATOR_PASSWORD",
                                         doc="the environment variable holding its password")
    alarms: tuple[AlarmRoute, ...] = setting((), doc="[[web.alarms]] tables (docs/alarms.md)")
    alarm_offline_grace_s: float = setting(60.0, minimum=5.0, maximum=86_400.0,
                                           doc="a pack offline this long is an alarm")

    def __post_init__(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise InvalidSettingError("tls_key_file", "give both tls_cert_file and "
                                                      "tls_key_file, or neither")
        try:
            address = ipaddress.ip_address(self.listen)
        except ValueError:
            raise InvalidSettingError("listen", "must be an IP address") from None
        if not address.is_loopback and not self.tls_cert_file \
                and not self.plain_http_off_loopback:
            raise InvalidSettingError(
                "listen", f"{self.listen} is not loopback: give tls_cert_file and "
                          "tls_key_file, or set plain_http_off_loopback = true")
        if self.history_coarse_s * 2 > self.history_full_s:
            raise InvalidSettingError("history_coarse_s", "must be at most half of "
                                                          "history_full_s")
