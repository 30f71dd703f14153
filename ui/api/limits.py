"""Basic abuse limits: requests per minute per key and per address, answered with 429."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from kb.settings import ServerSettings
from ui.api.deps import request_key

_WINDOW = 60.0


class RateLimit(BaseHTTPMiddleware):
    """Fixed one-minute windows, counted per process, for /api requests only."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        super().__init__(app)
        self._settings = settings
        self._counts: dict[tuple[str, int], int] = {}
        self._window = 0
        self._lock = threading.Lock()

    def _identities(self, request: Request) -> list[tuple[str, int]]:
        """Every request counts for its address; with a key, for the key too (a made-up key
        per request must not escape the address's limit)."""
        host = request.client.host if request.client else "unknown"
        key = request_key(request)
        if not key:
            return [("ip:" + host, self._settings.requests_per_minute)]
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        limit = self._settings.requests_per_minute_with_key
        return [
            ("ip:" + host, max(limit, self._settings.requests_per_minute)),
            ("key:" + digest, limit),
        ]

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith("/api/"):
            return await call_next(request)
        now = time.time()
        window = int(now // _WINDOW)
        over = None
        with self._lock:
            if window != self._window:  # a new minute: forget the old counts
                self._counts, self._window = {}, window
            for identity, limit in self._identities(request):
                count = self._counts.get((identity, window), 0) + 1
                self._counts[(identity, window)] = count
                if count > limit:
                    over = limit
        if over is not None:
            retry = max(1, int((window + 1) * _WINDOW - now) + 1)
            return JSONResponse(
                {"detail": f"Too many requests: at most {over} a minute. Try again in {retry} s."},
                status_code=429,
                headers={"Retry-After": str(retry)},
            )
        return await call_next(request)
