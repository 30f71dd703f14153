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
        self._lock = threading.Lock()

    def _identity(self, request: Request) -> tuple[str, int]:
        key = request_key(request)
        if key:
            return "key:" + hashlib.sha256(key.encode()).hexdigest()[
                :16
            ], self._settings.requests_per_minute_with_key
        host = request.client.host if request.client else "unknown"
        return "ip:" + host, self._settings.requests_per_minute

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith("/api/"):
            return await call_next(request)
        identity, limit = self._identity(request)
        now = time.time()
        window = int(now // _WINDOW)
        with self._lock:
            count = self._counts.get((identity, window), 0) + 1
            self._counts[(identity, window)] = count
            if len(self._counts) > 10_000:  # forget old windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
        if count > limit:
            retry = max(1, int((window + 1) * _WINDOW - now) + 1)
            return JSONResponse(
                {"detail": f"Too many requests: at most {limit} a minute. Try again in {retry} s."},
                status_code=429,
                headers={"Retry-After": str(retry)},
            )
        return await call_next(request)
