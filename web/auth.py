"""Logins of the dashboard: a users file of scrypt hashes, sessions that expire, a CSRF token
per session, and a throttle on failed logins. Pure but for reading and writing the users
file; time is passed in.

A users file line: ``name:role:scrypt$N$r$p$salt$hash`` (base64), role ``operator`` (may
send commands) or ``viewer``. `bms web user add` writes it (mode 0600)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("operator", "viewer")
# 32 MiB and about 0.1 s per login here: below OWASP's N=2^17 (128 MiB), which a pack's SBC
# may not spare per login; a stored hash carries its own parameters, so raising these later
# keeps every existing line valid
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 2**20
MIN_PASSWORD_CHARS = 10
MAX_SESSIONS = 1000
FAILURES_ALLOWED = 5
FAILURE_WINDOW_S = 300.0


class UsersFileError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), maxmem=4 * SCRYPT_MAXMEM,
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str


def read_users(path: Path) -> dict[str, User]:
    users: dict[str, User] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or parts[1] not in ROLES or not parts[2].startswith("scrypt$"):
            raise UsersFileError(f"{path}:{number}: expected name:operator|viewer:scrypt$...")
        users[parts[0]] = User(parts[0], parts[1], parts[2])
    return users


def add_user(path: Path, name: str, role: str, password: str) -> None:
    """Add or replace ``name`` (written atomically, readable by the owner only)."""
    if not name or any(c in name for c in ":\n ") or role not in ROLES:
        raise UsersFileError(f"a name without ':' or spaces, and a role of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsersFileError(f"a password of at least {MIN_PASSWORD_CHARS} characters")
    users = read_users(path) if path.exists() else {}
    users[name] = User(name, role, hash_password(password))
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(f"{u.name}:{u.role}:{u.password_hash}\n"
                                 for u in users.values()))
    temporary.chmod(0o600)
    temporary.replace(path)


@dataclass
class Session:
    token: str
    csrf: str
    user: str
    role: str
    created_s: float
    used_s: float


@dataclass
class Sessions:
    idle_s: float
    max_s: float
    _by_token: OrderedDict[str, Session] = field(default_factory=OrderedDict)

    def create(self, user: User, now_s: float) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user.name,
                          user.role, now_s, now_s)
        self._by_token[session.token] = session
        while len(self._by_token) > MAX_SESSIONS:
            self._by_token.popitem(last=False)
        return session

    def get(self, token: str | None, now_s: float) -> Session | None:
        """The live session of a cookie (its use refreshes the idle time), or None."""
        session = self._by_token.get(token or "")
        if session is None:
            return None
        if now_s - session.used_s > self.idle_s or now_s - session.created_s > self.max_s:
            del self._by_token[session.token]
            return None
        session.used_s = now_s
        return session

    def end(self, token: str) -> None:
        self._by_token.pop(token, None)

    def end_user(self, name: str) -> None:
        for token in [t for t, s in self._by_token.items() if s.user == name]:
            del self._by_token[token]


@dataclass
class LoginThrottle:
    """At most FAILURES_ALLOWED failed logins per user name in FAILURE_WINDOW_S."""

    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def allowed(self, name: str, now_s: float) -> bool:
        failures = self._failures.get(name)
        while failures and now_s - failures[0] > FAILURE_WINDOW_S:
            failures.popleft()
        return not failures or len(failures) < FAILURES_ALLOWED

    def failed(self, name: str, now_s: float) -> None:
        self._failures.setdefault(name, deque()).append(now_s)
        if len(self._failures) > MAX_SESSIONS:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)
