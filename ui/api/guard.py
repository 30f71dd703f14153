"""What every request passes before any route reads it: the key checked, the rate limit
counted, the body's size bounded, uploads refused early. A pure ASGI middleware, so nothing
is read into memory before it decides.

- A request to /api, /v1 or /mcp with a malformed authorization header, or a key that is
  unknown or revoked, is a 401 here: made-up keys never get a key's allowance. The key
  `anonymous` reads as none (OpenAI clients cannot send a request without a key).
- Requests per minute are counted per address (and per key) for those paths and the chat's
  actions (every POST under /ui), answered with 429 and Retry-After, in a counter every
  worker shares (ui/api/ratelimits.py). The address is the
  connection's; uvicorn rewrites it from X-Forwarded-For only for the trusted proxies the
  settings name (none by default).
- A body larger than the route allows is refused with 413 before it is read: uploads up to
  the upload limit, staff only (checked before the body); any other request up to
  `max_request_kb`.
- The chat takes no files: of gradio's POST routes only the chat's actions are open.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from kb.keys import Caller, InvalidKey, KeyStore, Role
from kb.settings import ServerSettings
from ui.api.ratelimits import Counter, over

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_WINDOW = 60.0
_UPLOAD_PATH = "/api/documents"
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the catalogue fields beside the file
# The chat's own actions; every other POST gradio offers (uploads, recordings, streams, its
# editing tools) is closed: this chat takes no files.
_CHAT_ACTIONS = ("queue/join", "run/", "api/", "call/", "cancel", "reset")
_CHAT_ACTION_KB = 1024  # a long conversation travels with every question
_AUTH_HEADERS = (b"authorization", b"x-api-key")


class MalformedAuthorization(InvalidKey):
    """An authorization header in a scheme other than Bearer."""


# The key that says "no key": OpenAI clients (the SDK, Open WebUI, LibreChat) always send one.
ANONYMOUS_KEY = "anonymous"


def request_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries, from `Authorization: Bearer KEY` or `X-API-Key`; None for
    no key or the key `anonymous`. Any other authorization scheme (Basic, Token, ...) is
    refused, never read as anonymous."""
    auth = headers.get("authorization", "").strip()
    if auth:
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise MalformedAuthorization(
                "Send the API key as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'."
            )
        return None if key.strip() == ANONYMOUS_KEY else key.strip()
    key = headers.get("x-api-key", "").strip()
    return None if key in ("", ANONYMOUS_KEY) else key


# Paths that take API keys and count against the API's rate limits: the JSON API, the
# OpenAI-compatible chat and the MCP server.
_KEYED_PREFIXES = ("/api/", "/v1/", "/mcp")
_OPENAI_ERROR_TYPES = {401: "invalid_api_key", 403: "permission_denied", 413: "request_too_large",
                       429: "rate_limit_exceeded"}  # fmt: skip


def error_body(path: str, status: int, detail: str) -> dict[str, Any]:
    """A refusal as the caller's client reads it: OpenAI's `{"error": {...}}` under /v1 (the
    openai SDK and chat front-ends parse that), `{"detail": ...}` everywhere else."""
    if path.startswith("/v1/"):
        kind = "invalid_request_error" if status < 500 else "server_error"
        code = _OPENAI_ERROR_TYPES.get(status, kind)
        return {"error": {"message": detail, "type": kind, "param": None, "code": code}}
    return {"detail": detail}


async def _respond(
    send: Send, status: int, detail: str, headers: dict[str, str], path: str = ""
) -> None:
    body = json.dumps(error_body(path, status, detail)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Refusal(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


class Guard:
    def __init__(
        self, app: App, settings: ServerSettings, keys: KeyStore, counter: Counter
    ) -> None:
        self._app = app
        self._settings = settings
        self._keys = keys
        self._counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        try:
            limit = self._check(scope)
        except Refusal as e:
            # Closing the connection: a refused upload's body is not read, then or later.
            headers = {**e.headers, "Connection": "close"}
            await _respond(send, e.status, e.detail, headers, scope["path"])
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, _bounded(receive, limit), tracking)
        except BodyTooLarge as e:
            if started:
                raise
            await _respond(send, 413, e.detail, {"Connection": "close"}, scope["path"])

    def _check(self, scope: Scope) -> int | None:
        """Refuse what can be refused from the headers; the body limit of the rest."""
        path: str = scope["path"]
        method: str = scope["method"]
        raw = [(k.lower(), v) for k, v in scope["headers"]]
        if sum(k in _AUTH_HEADERS for k, _ in raw) > 1:  # which key would count? refuse
            raise Refusal(401, "Send one API key, in one header.", {"WWW-Authenticate": "Bearer"})
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
        api = path.startswith(_KEYED_PREFIXES)
        chat_post = path.startswith("/ui/") and method == "POST"
        if chat_post and not _is_chat_action(path):
            raise Refusal(403, "The chat takes no files; staff upload with POST /api/documents.")
        if api or chat_post:
            self._count_address(scope, keyed=api and _has_key(headers))
        caller = self._caller(headers) if api else Caller()
        if caller.role is not Role.anonymous:
            self._count_key(headers)
        if api and method == "POST" and path.rstrip("/") == _UPLOAD_PATH:
            if caller.role is Role.anonymous:
                raise Refusal(401, "Sign in with a staff key to change the library.")
            if not caller.role.may_edit:
                raise Refusal(403, "Only staff and admins may change the library.")
            limit = int(self._settings.max_upload_mb * 1024 * 1024) + _FORM_OVERHEAD
        elif chat_post:
            limit = max(_CHAT_ACTION_KB, int(self._settings.max_request_kb)) * 1024
        else:
            limit = int(self._settings.max_request_kb * 1024)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise Refusal(413, f"The request body is over the {limit // 1024:,} KB limit.")
        return limit

    def _caller(self, headers: dict[str, str]) -> Caller:
        try:
            return self._keys.caller(request_key(headers))
        except InvalidKey as e:
            raise Refusal(401, str(e), {"WWW-Authenticate": "Bearer"}) from e

    def _count_address(self, scope: Scope, keyed: bool) -> None:
        """Every request counts for its address, before its key is even looked up (made-up
        keys are counted too); a request with a key may use the key's larger allowance."""
        host = scope["client"][0] if scope.get("client") else "unknown"
        limit = self._settings.requests_per_minute
        if keyed:
            limit = max(limit, self._settings.requests_per_minute_with_key)
        self._refuse_over([("ip:" + host, limit)])

    def _count_key(self, headers: dict[str, str]) -> None:
        """A valid key also counts on its own, wherever it is used from."""
        digest = hashlib.sha256((request_key(headers) or "").encode()).hexdigest()[:16]
        self._refuse_over([("key:" + digest, self._settings.requests_per_minute_with_key)])

    def _refuse_over(self, identities: list[tuple[str, int]]) -> None:
        refused = over(self._counter, identities)
        if refused is not None:
            limit, retry = refused
            detail = f"Too many requests: at most {limit} a minute. Try again in {retry} s."
            raise Refusal(429, detail, {"Retry-After": str(retry)})


def _is_chat_action(path: str) -> bool:
    rest = path.removeprefix("/ui").removeprefix("/gradio_api").lstrip("/")
    return rest.startswith(_CHAT_ACTIONS)


def _has_key(headers: dict[str, str]) -> bool:
    """Whether the request sends a key (the key `anonymous` is none)."""
    try:
        return request_key(headers) is not None
    except InvalidKey:  # refused right after; counted with a key's allowance, as any key
        return True


class BodyTooLarge(HTTPException):
    """Raised inside the app when a body without Content-Length grows past its limit: an
    HTTPException, so FastAPI's body parsing passes it on as the 413 it is."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail, headers={"Connection": "close"})


def _bounded(receive: Receive, limit: int | None) -> Receive:
    """A receive that stops a body growing past the limit (chunked bodies have no length)."""
    if limit is None:
        return receive
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"The request body is over the {limit // 1024:,} KB limit.")
        return message

    return bounded
