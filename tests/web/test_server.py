"""The dashboard's HTTP side through aiohttp's test client: who may view and command, CSRF
and same-origin checks, commands checked as the master checks them, the live stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp.test_utils import TestClient, TestServer

from master.telemetry.commands import parse_command
from master.telemetry.payloads import pack_bytes
from web.auth import Sessions, add_user, read_users
from web.history import History
from web.model import SiteModel
from web.server import Dashboard, make_app

PASSWORDS = {"ana": "operator password", "vic": "viewer password"}


class Master:
    """Answers each command on the model as the master would, accepting all but state."""

    def __init__(self, board: list[Dashboard]) -> None:
        self.board = board
        self.received: list[dict[str, Any]] = []

    async def send(self, pack: str, payload: bytes) -> None:
        command = parse_command(payload)
        self.received.append({"pack": pack, **msgpack.unpackb(payload)})
        refused = "a VCU is configured" if command.name == "state" else ""
        update = self.board[0].model.apply(f"bms/{pack}/command/result", pack_bytes(
            {"t": 1.0, "id": command.id, "accepted": not refused, "reason": refused}))
        assert update is not None
        self.board[0].publish(update)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Dashboard,
                                                       Master]]:
    add_user(tmp_path / "users", "ana", "operator", PASSWORDS["ana"])
    add_user(tmp_path / "users", "vic", "viewer", PASSWORDS["vic"])
    boards: list[Dashboard] = []
    master = Master(boards)
    model = SiteModel()
    model.apply("bms/p1/state", pack_bytes({"t": 1.0, "state": "NORMAL"}))
    board = Dashboard(model, History(tmp_path / "h.sqlite"), read_users(tmp_path / "users"),
                      Sessions(60.0, 600.0), login_to_view=False, send_command=master.send)
    boards.append(board)
    client = TestClient(TestServer(make_app(board)))
    await client.start_server()
    try:
        yield client, board, master
    finally:
        await client.close()


async def _login(client: TestClient[Any, Any], user: str) -> str:
    response = await client.post("/api/login", json={"user": user,
                                                     "password": PASSWORDS[user]})
    assert response.status == 200
    return str((await response.json())["csrf"])


async def test_an_operator_command_is_sent_and_its_result_returned(setup: Any) -> None:
    client, _, master = setup
    csrf = await _login(client, "ana")
    response = await client.post("/api/command", headers={"X-CSRF-Token": csrf},
                                 json={"pack": "p1", "command": "balancing", "enabled": False})
    assert response.status == 200
    assert (await response.json())["accepted"] is True
    assert master.received[0]["command"] == "balancing"
    assert master.received[0]["v"] == 1
    refused = await client.post("/api/command", headers={"X-CSRF-Token": csrf},
                                json={"pack": "p1", "command": "state", "request": "drive"})
    assert (await refused.json()) | {"id": None} == {"id": None, "accepted": False,
                                                     "reason": "a VCU is configured"}


async def test_a_bad_command_never_leaves(setup: Any) -> None:
    client, _, master = setup
    csrf = await _login(client, "ana")
    for body, reason in (({"pack": "p1", "command": "charge_target", "soc_pct": 5}, "10..100"),
                         ({"pack": "p1", "command": "open_contactors"}, "unknown command"),
                         ({"pack": "nope", "command": "fault_reset"}, "no pack")):
        response = await client.post("/api/command", headers={"X-CSRF-Token": csrf}, json=body)
        assert response.status in (400, 404)
        assert reason in (await response.json())["error"]
    assert master.received == []


async def test_commands_need_an_operator_a_token_and_the_same_origin(setup: Any) -> None:
    client, _, master = setup
    body = {"pack": "p1", "command": "fault_reset"}
    assert (await client.post("/api/command", json=body)).status == 401
    csrf = await _login(client, "ana")
    assert (await client.post("/api/command", json=body)).status == 403  # no token
    assert (await client.post("/api/command", json=body,
                              headers={"X-CSRF-Token": csrf + "x"})).status == 403
    cross = await client.post("/api/command", json=body, headers={
        "X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert cross.status == 403
    assert "cross-origin" in (await cross.json())["error"]
    viewer_csrf = await _login(client, "vic")
    viewer = await client.post("/api/command", json=body, headers={"X-CSRF-Token": viewer_csrf})
    assert viewer.status == 403
    assert "viewer" in (await viewer.json())["error"]
    assert master.received == []


async def test_logins_fail_without_telling_names_apart_and_are_throttled(setup: Any) -> None:
    client, _, _ = setup
    unknown = await client.post("/api/login", json={"user": "eve", "password": "guess"})
    wrong = await client.post("/api/login", json={"user": "ana", "password": "guess"})
    assert unknown.status == wrong.status == 401
    assert await unknown.json() == await wrong.json()
    for _ in range(5):
        await client.post("/api/login", json={"user": "ana", "password": "guess"})
    throttled = await client.post("/api/login", json={"user": "ana",
                                                      "password": PASSWORDS["ana"]})
    assert throttled.status == 429
    assert (await client.post("/api/login", data=b"not json")).status == 400


async def test_the_session_cookie_is_http_only_and_strict(setup: Any) -> None:
    client, _, _ = setup
    response = await client.post("/api/login", json={"user": "ana",
                                                     "password": PASSWORDS["ana"]})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    session = await (await client.get("/api/session")).json()
    assert session["user"] == "ana"
    assert session["role"] == "operator"
    csrf = session["csrf"]
    assert (await client.post("/api/logout", headers={"X-CSRF-Token": csrf})).status == 200
    assert (await (await client.get("/api/session")).json())["user"] is None


async def test_viewing_may_need_a_login(setup: Any) -> None:
    client, board, _ = setup
    assert (await client.get("/api/packs")).status == 200
    board.login_to_view = True
    for path in ("/api/packs", "/api/stream", "/api/history?pack=p1", "/api/events?pack=p1"):
        assert (await client.get(path)).status == 401, path
    await _login(client, "vic")
    assert (await client.get("/api/packs")).status == 200


async def test_every_answer_carries_the_security_headers(setup: Any) -> None:
    client, _, _ = setup
    for path in ("/", "/static/app.js", "/static/plotly.min.js", "/api/packs"):
        response = await client.get(path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
    page = await (await client.get("/")).text()
    assert "<script>" not in page
    assert "http" not in page.split("<body>")[0]


async def test_the_stream_starts_with_a_snapshot_then_each_change(setup: Any) -> None:
    client, board, _ = setup
    response = await client.get("/api/stream")
    assert response.headers["Content-Type"] == "text/event-stream"

    async def event() -> tuple[str, Any]:
        lines: list[str] = []
        while not lines or lines[-1] != "":
            lines.append((await response.content.readline()).decode().rstrip("\n"))
        kind = next(x for x in lines if x.startswith("event: "))[7:]
        return kind, json.loads(next(x for x in lines if x.startswith("data: "))[6:])

    kind, data = await asyncio.wait_for(event(), 5)
    assert kind == "snapshot"
    assert data[0]["state"]["state"] == "NORMAL"
    update = board.model.apply("bms/p1/state", pack_bytes({"t": 2.0, "state": "ERROR"}))
    assert update is not None
    board.publish(update)
    kind, data = await asyncio.wait_for(event(), 5)
    assert kind == "update"
    assert data["kind"] == "state"
    assert data["data"]["state"] == "ERROR"


async def test_history_is_asked_for_with_numbers(setup: Any) -> None:
    client, _, _ = setup
    assert (await client.get("/api/history?pack=p1&since=x")).status == 400
    assert (await client.get("/api/history?pack=p1&since=10&until=5")).status == 400
    assert (await client.get("/api/events?pack=p1&before=x")).status == 400
    ok = await client.get("/api/history?pack=p1&since=0&until=100")
    assert ok.status == 200
    assert (await ok.json())["series"]["state.t"] == []
