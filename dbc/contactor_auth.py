"""Authenticated contactor commands, in the style of AUTOSAR SecOC: a MAC in the frame, from
a key the master and the contactor box share, over a freshness value the box gives.

E2E protects against faults only (its CRC is public): any node on the pack bus could send a
valid ContactorCommand and close the contactors without precharge. With a key configured
(``contactors.auth_key_env`` names the environment variable holding it, hex, at least 16
bytes), every ContactorCommand carries ``AuthMac``, the first 4 bytes of
HMAC-SHA256(key, command id, contactor bits, challenge), and the box closes nothing on a
command whose MAC is wrong. The freshness is the box's: a random 16-bit ``AuthChallenge``
in its ContactorFeedback, renewed after every change of the contactors it accepts, so a
recorded command does not verify after the state it asked for has changed. Opening never
needs a MAC: authentication can keep contactors open, never closed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from dbc.frames import Contactors

MIN_KEY_BYTES = 16


class ContactorKeyError(ValueError):
    pass


def contactor_bits(contactors: Contactors) -> int:
    return int(contactors.main_plus) | int(contactors.main_minus) << 1 | \
        int(contactors.precharge) << 2


def mac(key: bytes, command_id: int, contactors: Contactors, challenge: int) -> int:
    """The 32-bit authenticator of a command under the box's ``challenge``."""
    message = command_id.to_bytes(2, "little") + bytes([contactor_bits(contactors)]) + \
        challenge.to_bytes(2, "little")
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:4], "little")


def verify(key: bytes, command_id: int, contactors: Contactors, challenge: int,
           received_mac: int) -> bool:
    expected = mac(key, command_id, contactors, challenge).to_bytes(4, "little")
    return hmac.compare_digest(expected, received_mac.to_bytes(4, "little"))


def new_challenge(previous: int) -> int:
    """A random challenge other than ``previous`` and other than 0 (0: authentication off)."""
    while True:
        challenge = secrets.randbelow(0xFFFF) + 1
        if challenge != previous:
            return challenge


def key_from_environment(variable: str) -> bytes | None:
    """The key named by ``contactors.auth_key_env`` (None when the name is empty)."""
    if not variable:
        return None
    text = os.environ.get(variable, "")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ContactorKeyError(f"${variable}: not hex") from None
    if len(key) < MIN_KEY_BYTES:
        raise ContactorKeyError(f"${variable}: {len(key)} bytes; a contactor key needs at least "
                        f"{MIN_KEY_BYTES} (for example: python -c 'import secrets; "
                        f"print(secrets.token_hex(16))')")
    return key
