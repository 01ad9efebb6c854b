"""The dashboard's HTTP side (aiohttp): the page and its static files, the JSON API, the live
stream (server-sent events) and the operator's commands.

- ``GET /api/packs``: every pack as the model holds it; ``GET /api/stream``: that snapshot,
  then each change as it arrives; ``GET /api/history``, ``GET /api/events``: from the history.
- ``POST /api/login`` / ``/api/logout``; ``GET /api/session``: who is logged in, and the
  session's CSRF token.
- ``POST /api/command``: an operator's session, the CSRF token in ``X-CSRF-Token``, a
  same-origin request; the command is checked as the master checks it
  (master/telemetry/commands.py) before it is published, and the answer carries the master's
  result when it arrives within ``RESULT_WAIT_S``.

Every page and script comes from this package (plotly.js from the plotly package): no CDN.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import msgpack
from aiohttp import web

from master.telemetry.clients import SendCommand
from master.telemetry.commands import CommandError, parse_command
from master.telemetry.payloads import SCHEMA_VERSION
from web.auth import LoginThrottle, Session, Sessions, User, hash_password, verify_password
from web.history import History
from web.model import SiteModel, Update

log = logging.getLogger(__name__)
COOKIE = "bms_session"
RESULT_WAIT_S = 5.0
STREAM_QUEUE = 500
KEEPALIVE_S = 15.0
MAX_HISTORY_S = 400 * 86_400.0
CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

@functools.cache
def _unknown_user_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@dataclass
class Dashboard:
    """What the handlers share: the model, the history, the logins, the browsers' streams."""

    model: SiteModel
    history: History | None
    users: dict[str, User]
    sessions: Sessions
    login_to_view: bool
    send_command: SendCommand | None
    secure_cookies: bool = False
    clock: Callable[[], float] = time.time
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    streams: set[asyncio.Queue[Update | None]] = field(default_factory=set)
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    dropped_streams: int = 0

    def publish(self, update: Update) -> None:
        """Hand a change to every browser; one that cannot keep up is closed (it reconnects
        and starts again from a snapshot)."""
        if update.kind == "result":
            future = self.waiting.pop(str(update.data.get("id")), None)
            if future is not None and not future.done():
                future.set_result(update.data)
        for queue in list(self.streams):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                self.streams.discard(queue)
                self.dropped_streams += 1
                queue.get_nowait()
                queue.put_nowait(None)

    def session(self, request: web.Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE), self.clock())


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, allow_nan=False))


def _refuse(status: int, reason: str) -> web.Response:
    return _json({"error": reason}, status)


def _dashboard(request: web.Request) -> Dashboard:
    return request.app[DASHBOARD]


DASHBOARD = web.AppKey("dashboard", Dashboard)


def _can_view(request: web.Request) -> bool:
    board = _dashboard(request)
    return not board.login_to_view or board.session(request) is not None


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
    return origin == f"{request.scheme}://{request.host}"


def _changing(request: web.Request) -> Session | web.Response:
    """The session of a state-changing request, or the refusal of it: a session, the same
    origin, and the session's CSRF token in ``X-CSRF-Token``."""
    session = _dashboard(request).session(request)
    if session is None:
        return _refuse(401, "log in first")
    if not _same_origin(request):
        return _refuse(403, "cross-origin request refused")
    token = request.headers.get("X-CSRF-Token", "")
    if not secrets.compare_digest(token, session.csrf):
        return _refuse(403, "missing or wrong CSRF token")
    return session


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(_static_dir() / "index.html")


async def plotly(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(plotly_js())


async def session_info(request: web.Request) -> web.Response:
    board = _dashboard(request)
    session = board.session(request)
    return _json({"user": session.user if session else None,
                  "role": session.role if session else None,
                  "csrf": session.csrf if session else None,
                  "login_to_view": board.login_to_view,
                  "logins": bool(board.users),
                  "commands": bool(board.users) and board.send_command is not None})


async def login(request: web.Request) -> web.Response:
    board = _dashboard(request)
    if not _same_origin(request):
        return _refuse(403, "cross-origin request refused")
    try:
        body = await request.json()
        name, password = str(body["user"]), str(body["password"])
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "expected {\"user\": ..., \"password\": ...}")
    now = board.clock()
    if not board.throttle.allowed(name, now):
        return _refuse(429, "too many failed logins: wait a few minutes")
    user = board.users.get(name)
    # a hash is checked for an unknown name too: the answer's time does not tell names apart
    valid = await asyncio.to_thread(verify_password, password,
                                    user.password_hash if user else _unknown_user_hash())
    if user is None or not valid:
        board.throttle.failed(name, now)
        log.warning("failed login for %r from %s", name[:64], request.remote)
        return _refuse(401, "wrong user name or password")
    board.throttle.succeeded(name)
    session = board.sessions.create(user, now)
    log.info("%s (%s) logged in from %s", user.name, user.role, request.remote)
    response = _json({"user": user.name, "role": user.role, "csrf": session.csrf})
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict",
                        secure=board.secure_cookies, path="/")
    return response


async def logout(request: web.Request) -> web.Response:
    session = _changing(request)
    if isinstance(session, web.Response):
        return session
    _dashboard(request).sessions.end(session.token)
    response = _json({"user": None})
    response.del_cookie(COOKIE, path="/")
    return response


async def packs(request: web.Request) -> web.Response:
    if not _can_view(request):
        return _refuse(401, "log in to view")
    return _json(_dashboard(request).model.snapshot())


def _float(request: web.Request, name: str, default: float) -> float:
    try:
        value = float(request.query.get(name, default))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name}: a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise web.HTTPBadRequest(text=f"{name}: a finite number")
    return value


async def history(request: web.Request) -> web.Response:
    board = _dashboard(request)
    if not _can_view(request):
        return _refuse(401, "log in to view")
    if board.history is None:
        return _refuse(404, "this dashboard keeps no history")
    now = board.clock()
    until = _float(request, "until", now)
    since = _float(request, "since", until - 3600.0)
    if not 0 < until - since <= MAX_HISTORY_S:
        return _refuse(400, "since must be before until, at most 400 days")
    pack = request.query.get("pack", "")
    series = await asyncio.to_thread(board.history.series, pack, since, until)
    return _json({"pack": pack, "since": since, "until": until, "series": series})


async def events(request: web.Request) -> web.Response:
    board = _dashboard(request)
    if not _can_view(request):
        return _refuse(401, "log in to view")
    if board.history is None:
        return _refuse(404, "this dashboard keeps no history")
    before = request.query.get("before") or None
    if before is not None and not before.isdigit():
        return _refuse(400, "before: an event id")
    rows = await asyncio.to_thread(board.history.events, request.query.get("pack", ""), 100,
                                   int(before) if before else None)
    return _json(rows)


def _sse(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, allow_nan=False)}\n\n".encode()


async def stream(request: web.Request) -> web.StreamResponse:
    board = _dashboard(request)
    if not _can_view(request):
        return _refuse(401, "log in to view")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue: asyncio.Queue[Update | None] = asyncio.Queue(STREAM_QUEUE)
    board.streams.add(queue)
    try:
        await response.write(_sse("snapshot", board.model.snapshot()))
        while True:
            try:
                update = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if update is None:
                break
            await response.write(_sse("update", {"pack": update.pack, "kind": update.kind,
                                                 "data": update.data}))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        board.streams.discard(queue)
    return response


async def command(request: web.Request) -> web.Response:
    board = _dashboard(request)
    session = _changing(request)
    if isinstance(session, web.Response):
        return session
    if session.role != "operator":
        return _refuse(403, f"{session.user} is a viewer: commands need an operator")
    if board.send_command is None:
        return _refuse(503, "commands are off: no operator broker user configured")
    try:
        body = await request.json()
        pack = str(body.pop("pack"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return _refuse(400, "expected a JSON object with pack and command")
    if pack not in board.model.packs:
        return _refuse(404, f"no pack {pack!r}")
    command_id = f"web-{secrets.token_hex(6)}"
    payload = msgpack.packb({**body, "v": SCHEMA_VERSION, "id": command_id}, use_bin_type=True)
    try:
        parse_command(payload)  # the master's own check: a bad command never leaves
    except CommandError as exc:
        return _refuse(400, str(exc))
    future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    board.waiting[command_id] = future
    log.info("%s sends %s to %s", session.user, body, pack)
    try:
        await board.send_command(pack, payload)
        result = await asyncio.wait_for(future, RESULT_WAIT_S)
    except TimeoutError:
        return _json({"id": command_id, "pending": True,
                      "reason": f"no result from the master within {RESULT_WAIT_S:g} s"}, 202)
    except OSError as exc:
        return _refuse(502, f"could not reach the broker: {exc}")
    finally:
        board.waiting.pop(command_id, None)
    return _json({"id": command_id, "accepted": bool(result.get("accepted")),
                  "reason": result.get("reason", "")})


@web.middleware
async def security_headers(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _static_dir() -> Path:
    return Path(str(resources.files("web") / "static"))


def make_app(board: Dashboard) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=64 * 1024)
    app[DASHBOARD] = board
    app.router.add_get("/", index)
    app.router.add_get("/static/plotly.min.js", plotly)
    app.router.add_static("/static/", _static_dir())
    app.router.add_get("/api/session", session_info)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/packs", packs)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/api/history", history)
    app.router.add_get("/api/events", events)
    app.router.add_post("/api/command", command)
    return app
