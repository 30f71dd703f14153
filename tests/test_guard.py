"""The guard in front of every route, as middleware on a real Starlette app with a real key
store: keys checked, rates counted (the chat's actions too), bodies bounded, uploads refused
before their body is read."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from kb.keys import KeyStore, Role
from kb.settings import ServerSettings
from ui.api.guard import Guard
from ui.api.ratelimits import Counter, RedisCounter, SqliteCounter


class Seen:
    bodies: list[int] = []


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    Seen.bodies.append(len(body))
    return JSONResponse({"bytes": len(body)})


def _client(
    tmp_path: Path, counter: Counter | None = None, **limits: float
) -> tuple[TestClient, dict[str, str]]:
    keys = KeyStore(tmp_path)
    counter = counter or SqliteCounter(tmp_path / "ratelimits.sqlite")
    tokens = {role: keys.create(Role(role), role) for role in ("member", "staff")}
    routes = [
        Route(path, _echo, methods=["GET", "POST"])
        for path in ("/api/x", "/api/documents", "/ui/gradio_api/queue/join", "/ui/static")
    ]
    app = Starlette(routes=routes)
    app.add_middleware(Guard, settings=ServerSettings(**limits), keys=keys, counter=counter)  # type: ignore[arg-type]
    Seen.bodies = []
    return TestClient(app), tokens


def test_an_address_without_a_key_is_limited_with_retry_after(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, requests_per_minute=3)
    assert [client.get("/api/x").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/x")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "at most 3 a minute" in refused.json()["detail"]


def test_a_valid_key_has_its_own_larger_allowance(tmp_path: Path) -> None:
    client, tokens = _client(tmp_path, requests_per_minute=2, requests_per_minute_with_key=5)
    headers = {"Authorization": f"Bearer {tokens['member']}"}
    codes = [client.get("/api/x", headers=headers).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "kb_made-up"},
        {"Authorization": "Bearer kb_made-up"},
        {"Authorization": "Token kb_made-up"},
        {"Authorization": "Basic a2I6eA=="},
        {"Authorization": "Bearer "},
    ],
)
def test_made_up_keys_and_other_schemes_are_refused_not_anonymous(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    client, _ = _client(tmp_path)
    response = client.get("/api/x", headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert Seen.bodies == []  # the route never ran


def test_the_chats_actions_share_the_address_limit(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, requests_per_minute=2)
    codes = [client.post("/ui/gradio_api/queue/join", json={}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get("/ui/static").status_code == 200  # assets are not actions


def test_the_chat_takes_no_uploads(tmp_path: Path) -> None:
    client, tokens = _client(tmp_path)
    for path in (
        "/ui/gradio_api/upload",
        "/ui/upload",
        "/ui/gradio_api/process_recording",
        "/ui/gradio_api/stream/abc",
        "/ui/gradio_api/vibe-edit",
        "/ui/gradio_api/component_server",
    ):
        response = client.post(path, files={"files": ("x.pdf", b"%PDF-1.4")})
        assert response.status_code == 403 and "no files" in response.json()["detail"]
        assert response.headers["Connection"] == "close"


def test_two_keys_in_one_request_are_refused(tmp_path: Path) -> None:
    client, tokens = _client(tmp_path)
    both = [("Authorization", f"Bearer {tokens['member']}"), ("X-API-Key", tokens["staff"])]
    twice = [("X-API-Key", tokens["member"]), ("X-API-Key", tokens["staff"])]
    for headers in (both, twice):
        response = client.get("/api/x", headers=headers)
        assert response.status_code == 401 and "one API key" in response.json()["detail"]


def test_uploads_are_refused_before_their_body_is_read(tmp_path: Path) -> None:
    client, tokens = _client(tmp_path, max_upload_mb=1)
    big = b"x" * (3 * 1024 * 1024)
    anonymous = client.post("/api/documents", content=big)
    member = client.post("/api/documents", content=b"x", headers={"X-API-Key": tokens["member"]})
    staff_too_big = client.post(
        "/api/documents", content=big, headers={"X-API-Key": tokens["staff"]}
    )
    assert (anonymous.status_code, member.status_code, staff_too_big.status_code) == (401, 403, 413)
    assert Seen.bodies == []
    staff = client.post("/api/documents", content=b"%PDF", headers={"X-API-Key": tokens["staff"]})
    assert staff.status_code == 200 and Seen.bodies == [4]


def test_json_bodies_are_bounded_with_or_without_a_length(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, max_request_kb=1)
    declared = client.post("/api/x", content=b"x" * 2048)
    assert declared.status_code == 413 and "1 KB limit" in declared.json()["detail"]

    def chunks() -> object:
        for _ in range(4):
            yield b"y" * 600

    streamed = client.post("/api/x", content=chunks())  # chunked: no Content-Length
    assert streamed.status_code == 413
    assert client.post("/api/x", content=b"z" * 1000).json() == {"bytes": 1000}


def test_workers_share_one_count(tmp_path: Path) -> None:
    """Two apps over one counter file, as two server workers: the limit is for both together."""
    shared = tmp_path / "ratelimits.sqlite"
    first, _ = _client(tmp_path / "a", SqliteCounter(shared), requests_per_minute=4)
    second, _ = _client(tmp_path / "b", SqliteCounter(shared), requests_per_minute=4)
    codes = [client.get("/api/x").status_code for client in (first, second) * 3]
    assert codes == [200, 200, 200, 200, 429, 429]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_workers_on_several_machines_share_a_redis_count(tmp_path: Path, redis_url: str) -> None:
    first, _ = _client(tmp_path / "a", RedisCounter(redis_url), requests_per_minute=3)
    second, _ = _client(tmp_path / "b", RedisCounter(redis_url), requests_per_minute=3)
    codes = [client.get("/api/x").status_code for client in (first, second, first, second)]
    assert codes == [200, 200, 200, 429]
    assert "Retry-After" in second.get("/api/x").headers
