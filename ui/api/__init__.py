"""The server: the JSON API under /api (OpenAPI at /docs), the OpenAI-compatible chat under
/v1, the MCP server at /mcp and the Gradio chat under /ui.

Thin layers over the core (kb/): requests and responses are the shared contracts
(ui/contracts.py), who may see what is decided in deps.py, and our errors become status codes
here, in one place.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from ingest.curation import UploadRefused
from kb.answer import composer_for
from kb.briefs import BriefStore
from kb.errors import (
    BriefFull,
    BriefNotFound,
    DocumentNotFound,
    EmptyIndex,
    IndexBusy,
    KBError,
    QuoteNotFound,
    StoreUnavailable,
)
from kb.keys import InvalidKey, KeyStore
from kb.library import Library
from kb.settings import Settings
from ui.api.briefs import router as briefs_router
from ui.api.guard import Guard, error_body
from ui.api.openai_chat import OpenAIError
from ui.api.openai_chat import router as openai_router
from ui.api.ratelimits import counter_for
from ui.api.routes import router
from ui.api.staff import router as staff_router
from ui.contracts import InvalidRequest, describe_errors
from ui.mcp import MCPEndpoint, build_mcp

logger = logging.getLogger("kb.api")


def _error_handlers(app: FastAPI) -> None:
    def handler(status: int) -> Any:
        def respond(request: Request, exc: Exception) -> JSONResponse:
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            if status == 503:
                headers = {"Retry-After": "5"}
            body = error_body(request.url.path, status, str(exc))
            if status == 422 and "detail" in body:  # the documented shape of every 422
                body["errors"] = [{"loc": [], "msg": str(exc), "type": "value_error"}]
            return JSONResponse(body, status_code=status, headers=headers)

        return respond

    for error, status in (
        (StoreUnavailable, 503),
        (DocumentNotFound, 404),
        (BriefNotFound, 404),
        (QuoteNotFound, 422),
        (BriefFull, 422),
        (InvalidKey, 401),
        (EmptyIndex, 409),
        (IndexBusy, 409),
        (UploadRefused, 422),
        (InvalidRequest, 422),
        (KBError, 400),
    ):
        app.add_exception_handler(error, handler(status))

    @app.exception_handler(OpenAIError)
    def _openai(_: Request, exc: OpenAIError) -> JSONResponse:
        body = {"error": {"message": str(exc), "type": "invalid_request_error", "param": None,
                          "code": exc.code}}  # fmt: skip
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = error_body(request.url.path, exc.status_code, str(exc.detail))
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable sentence per problem, plus the structured list; what the caller sent
        # is echoed short and safe to encode (a lone surrogate, NaN), never whole.
        errors = [_echo_safe(e) for e in exc.errors()]
        if request.url.path.startswith("/v1/"):  # OpenAI's clients expect a 400 in its shape
            return JSONResponse(error_body(request.url.path, 400, describe_errors(errors)), 400)
        return JSONResponse({"detail": describe_errors(errors), "errors": errors}, 422)

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug is still an answer the client can read, and the connection is closed cleanly.
        logger.exception("unexpected error", exc_info=exc)
        return JSONResponse(
            error_body(request.url.path, 500, "Internal error; it has been logged."),
            status_code=500,
            headers={"Connection": "close"},
        )


_ECHO_CHARS = 200


def _short(value: Any) -> Any:
    """A value as JSON can carry it: numbers and booleans as they are (finite ones), anything
    else as text of at most 200 characters with unencodable characters replaced."""
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _ECHO_CHARS:
        text = text[:_ECHO_CHARS] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def _echo_safe(error: Mapping[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {
        "loc": [_short(p) for p in error.get("loc", ())],
        "msg": _short(error.get("msg", "")),
        "type": _short(error.get("type", "")),
    }
    if "input" in error:
        safe["input"] = _short(error["input"])
    if isinstance(error.get("ctx"), Mapping):
        safe["ctx"] = {str(k): _short(v) for k, v in error["ctx"].items()}
    return safe


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    mcp: MCPEndpoint = app.state.mcp
    async with mcp.running():
        yield


def create_app(
    settings: Settings,
    library: Library | None = None,
    with_chat: bool = True,
    chat_url: str | None = None,
) -> FastAPI:
    """The server: the JSON API under /api, the MCP server at /mcp and the chat under /ui
    (or, without the chat, a redirect to where it is served: `chat_url`)."""
    app = FastAPI(
        title="Publications knowledge base",
        description="Search and question the library; every answer cites its passages.",
        version="0.1.0",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.library = library or Library(settings)
    app.state.keys = KeyStore(settings.data_dir)
    app.state.briefs = BriefStore(settings.data_dir, settings.briefs.max_excerpts)
    app.state.composer = composer_for(app.state.library, settings)
    counter = counter_for(settings.data_dir, settings.server.redis_url)
    app.add_middleware(Guard, settings=settings.server, keys=app.state.keys, counter=counter)
    app.include_router(router)
    app.include_router(staff_router)
    app.include_router(briefs_router)
    app.include_router(openai_router)
    mcp = build_mcp(settings, app.state.library, app.state.keys, composer=app.state.composer)
    app.state.mcp = MCPEndpoint(mcp)
    app.router.routes.append(Route("/mcp", app.state.mcp, include_in_schema=False))
    _error_handlers(app)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/" if with_chat else chat_url or "/docs")

    if chat_url and not with_chat:

        @app.get("/ui", include_in_schema=False)
        @app.get("/ui/{rest:path}", include_in_schema=False)
        def chat_elsewhere(rest: str = "") -> RedirectResponse:
            return RedirectResponse(chat_url)

    if with_chat:
        import gradio as gr

        from ui.chat import CSS, build_chat

        gr.mount_gradio_app(
            app,
            build_chat(app.state.library, app.state.keys, settings, app.state.briefs),
            path="/ui",
            css=CSS,
        )
    return app
