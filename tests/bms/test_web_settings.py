"""`[web]`: a dashboard off loopback needs TLS, or to be told in so many words."""

from __future__ import annotations

import pytest

from bms.config_loader import InvalidSettingError
from bms.web_settings import AlarmRoute, WebSettings


def test_a_non_loopback_address_needs_tls_or_an_explicit_yes() -> None:
    with pytest.raises(InvalidSettingError, match="not loopback"):
        WebSettings(listen="0.0.0.0")
    assert WebSettings(listen="0.0.0.0", tls_cert_file="c.pem", tls_key_file="k.pem")
    assert WebSettings(listen="192.0.2.1", plain_http_off_loopback=True)
    assert WebSettings(listen="::1")


def test_bad_web_settings_are_refused() -> None:
    with pytest.raises(InvalidSettingError, match="both"):
        WebSettings(tls_cert_file="c.pem")
    with pytest.raises(InvalidSettingError, match="IP address"):
        WebSettings(listen="localhost")
    with pytest.raises(InvalidSettingError, match="urls"):
        AlarmRoute()
    with pytest.raises(InvalidSettingError, match="severities"):
        AlarmRoute(severities=("info",), urls=("json://127.0.0.1/",))
