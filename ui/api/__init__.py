"""The server: the JSON API under /api (OpenAPI at /docs) and the Gradio chat under /ui.

Thin layers over the core (kb/): requests and responses are the shared contracts
(ui/contracts.py), who may see what is decided in deps.py, and our errors become status codes
here, in one place.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from ingest.curation import UploadRefused
from kb.errors import DocumentNotFound, EmptyIndex, IndexBusy, KBError
from kb.keys import InvalidKey, KeyStore
from kb.library import Library
from kb.settings import Settings
from ui.api.limits import RateLimit
from ui.api.routes import router
from ui.api.staff import router as staff_router
from ui.contracts import describe_errors


def _error_handlers(app: FastAPI) -> None:
    def handler(status: int) -> Any:
        def respond(_: Request, exc: Exception) -> JSONResponse:
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

        return respond

    for error, status in (
        (DocumentNotFound, 404),
        (InvalidKey, 401),
        (EmptyIndex, 409),
        (IndexBusy, 409),
        (UploadRefused, 422),
        (KBError, 400),
    ):
        app.add_exception_handler(error, handler(status))

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable sentence per problem, plus the structured list.
        return JSONResponse(
            {
                "detail": describe_errors(exc.errors()),
                "errors": jsonable_encoder(exc.errors(), custom_encoder={Exception: str}),
            },
            status_code=422,
        )


def create_app(
    settings: Settings, library: Library | None = None, with_chat: bool = True
) -> FastAPI:
    """The server: the JSON API under /api and the chat under /ui."""
    app = FastAPI(
        title="Publications knowledge base",
        description="Search and question the library; every answer cites its passages.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.library = library or Library(settings)
    app.state.keys = KeyStore(settings.data_dir)
    app.add_middleware(RateLimit, settings=settings.server)
    app.include_router(router)
    app.include_router(staff_router)
    _error_handlers(app)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/" if with_chat else "/docs")

    if with_chat:
        import gradio as gr

        from ui.chat import CSS, build_chat

        gr.mount_gradio_app(
            app, build_chat(app.state.library, app.state.keys, settings), path="/ui", css=CSS
        )
    return app
