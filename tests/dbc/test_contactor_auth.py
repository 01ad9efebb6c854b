"""The authenticator of contactor commands: HMAC-SHA256 truncated to 4 bytes over the
command id, the contactor bits and the box's challenge (stdlib hmac is the reference)."""

import hashlib
import hmac

import pytest

from dbc.contactor_auth import (
    ContactorKeyError,
    contactor_bits,
    key_from_environment,
    mac,
    new_challenge,
    verify,
)
from dbc.frames import Contactors

KEY = bytes(range(16))
CLOSED = Contactors(main_plus=True, main_minus=True)


def test_the_mac_is_the_truncated_hmac_of_its_message() -> None:
    message = (16).to_bytes(2, "little") + bytes([0b011]) + (0xBEEF).to_bytes(2, "little")
    expected = int.from_bytes(hmac.new(KEY, message, hashlib.sha256).digest()[:4], "little")
    assert mac(KEY, 16, CLOSED, 0xBEEF) == expected
    assert contactor_bits(Contactors(precharge=True)) == 0b100


def test_every_input_changes_the_mac() -> None:
    base = mac(KEY, 16, CLOSED, 100)
    assert mac(bytes(16), 16, CLOSED, 100) != base
    assert mac(KEY, 17, CLOSED, 100) != base
    assert mac(KEY, 16, Contactors(main_minus=True), 100) != base
    assert mac(KEY, 16, CLOSED, 101) != base
    assert verify(KEY, 16, CLOSED, 100, base)
    assert not verify(KEY, 16, CLOSED, 101, base)


def test_a_new_challenge_is_never_the_last_one_nor_zero() -> None:
    previous = 7
    for _ in range(2000):
        challenge = new_challenge(previous)
        assert challenge not in (0, previous)
        assert 0 < challenge <= 0xFFFF
        previous = challenge


def test_the_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert key_from_environment("") is None
    monkeypatch.setenv("BMS_TEST_KEY", KEY.hex())
    assert key_from_environment("BMS_TEST_KEY") == KEY
    monkeypatch.setenv("BMS_TEST_KEY", "00ff")
    with pytest.raises(ContactorKeyError, match="at least 16"):
        key_from_environment("BMS_TEST_KEY")
    monkeypatch.setenv("BMS_TEST_KEY", "not hex at all")
    with pytest.raises(ContactorKeyError, match="not hex"):
        key_from_environment("BMS_TEST_KEY")
    monkeypatch.delenv("BMS_TEST_KEY")
    with pytest.raises(ContactorKeyError, match="at least 16"):
        key_from_environment("BMS_TEST_KEY")  # named but not set: refused, not off
