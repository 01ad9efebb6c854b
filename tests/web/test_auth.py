"""Logins: hashed passwords, sessions that expire, a throttle on failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from web.auth import (
    FAILURES_ALLOWED,
    LoginThrottle,
    Sessions,
    UsersFileError,
    add_user,
    hash_password,
    read_users,
    verify_password,
)


def test_a_password_is_stored_hashed_and_verified(tmp_path: Path) -> None:
    users = tmp_path / "users"
    add_user(users, "ana", "operator", "correct horse")
    text = users.read_text()
    assert "correct horse" not in text
    assert text.startswith("ana:operator:scrypt$")
    assert users.stat().st_mode & 0o077 == 0
    stored = read_users(users)["ana"]
    assert verify_password("correct horse", stored.password_hash)
    assert not verify_password("correct horsE", stored.password_hash)
    assert hash_password("same password") != hash_password("same password")  # salted


def test_bad_users_and_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError):
        add_user(tmp_path / "u", "a:b", "operator", "long enough password")
    with pytest.raises(UsersFileError):
        add_user(tmp_path / "u", "a", "admin", "long enough password")
    with pytest.raises(UsersFileError):
        add_user(tmp_path / "u", "a", "viewer", "short")
    (tmp_path / "bad").write_text("ana:operator:plaintext\n")
    with pytest.raises(UsersFileError, match="bad:1"):
        read_users(tmp_path / "bad")
    assert not verify_password("x", "not a hash")


def test_sessions_end_when_idle_and_at_their_maximum(tmp_path: Path) -> None:
    add_user(tmp_path / "u", "ana", "viewer", "long enough password")
    user = read_users(tmp_path / "u")["ana"]
    sessions = Sessions(idle_s=60.0, max_s=300.0)
    session = sessions.create(user, 0.0)
    assert sessions.get(session.token, 59.0) is session
    assert sessions.get(session.token, 118.0) is session  # each use refreshes the idle time
    assert sessions.get(session.token, 179.0) is None  # idle for 61 s
    long_lived = sessions.create(user, 0.0)
    for now in range(50, 300, 50):
        assert sessions.get(long_lived.token, float(now)) is not None
    assert sessions.get(long_lived.token, 301.0) is None  # past its maximum, though in use
    assert sessions.get("forged", 0.0) is None
    assert sessions.get(None, 0.0) is None


def test_failed_logins_are_throttled_per_name() -> None:
    throttle = LoginThrottle()
    for _ in range(FAILURES_ALLOWED):
        assert throttle.allowed("ana", 0.0)
        throttle.failed("ana", 0.0)
    assert not throttle.allowed("ana", 1.0)
    assert throttle.allowed("bob", 1.0)
    assert throttle.allowed("ana", 301.0)  # the window has passed
