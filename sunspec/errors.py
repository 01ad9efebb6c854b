"""The SunSpec server's errors: one family, foreign errors converted where they arise."""

from __future__ import annotations

from bms.errors import BmsError


class SunSpecError(BmsError):
    """The SunSpec server cannot do what it was asked (listen, send a control, ...)."""
