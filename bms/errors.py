"""The exception tree shared by the BMS processes."""

from __future__ import annotations


class BmsError(Exception):
    """Base of every error the bms runtime raises on purpose."""


class ConfigError(BmsError):
    """Bad configuration: the message names the key and the reason."""


class BusError(BmsError):
    """A CAN bus could not be opened or failed while in use."""
