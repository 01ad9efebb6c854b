"""The exception tree of the wire contract."""

from __future__ import annotations

import enum


class DbcError(Exception):
    """Base of every error raised by the dbc package."""


class ContractError(DbcError):
    """A DBC file breaks a rule of the contract (layout, E2E position, attribute)."""


class EncodeError(DbcError):
    """A typed frame cannot be encoded (value out of range, unknown frame type)."""


class DecodeFailure(enum.Enum):
    UNKNOWN_ID = "unknown_id"
    BAD_MODULE_ID = "bad_module_id"
    WRONG_LENGTH = "wrong_length"
    MALFORMED = "malformed"  # cantools could not decode it (unknown multiplexer value, ...)


class DecodeError(DbcError):
    """A received frame cannot be decoded; ``failure`` says why (for statistics)."""

    def __init__(self, failure: DecodeFailure, message: str) -> None:
        super().__init__(message)
        self.failure = failure
