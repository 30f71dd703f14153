"""The rate limit as middleware on a real Starlette app: per address, per key, 429 with
Retry-After, and only for /api."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from kb.settings import ServerSettings
from ui.api.limits import RateLimit


def _client(per_minute: int, with_key: int) -> TestClient:
    async def ok(_: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/api/x", ok), Route("/ui/x", ok)])
    limits = ServerSettings(requests_per_minute=per_minute, requests_per_minute_with_key=with_key)
    app.add_middleware(RateLimit, settings=limits)
    return TestClient(app)


def test_an_address_without_a_key_is_limited_with_retry_after() -> None:
    client = _client(3, 10)
    assert [client.get("/api/x").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/x")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "at most 3 a minute" in refused.json()["detail"]


def test_a_key_has_its_own_larger_allowance() -> None:
    client = _client(2, 5)
    headers = {"Authorization": "Bearer kb_one"}
    codes = [client.get("/api/x", headers=headers).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


def test_made_up_keys_do_not_escape_the_address_limit() -> None:
    client = _client(2, 4)
    codes = [
        client.get("/api/x", headers={"X-API-Key": f"kb_fake{i}"}).status_code for i in range(6)
    ]
    assert codes == [200] * 4 + [429, 429]  # the address allows the key limit, no more
