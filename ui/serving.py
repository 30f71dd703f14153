"""Running the server: one process (API and chat), or several API workers over one store.

With `--workers N` the API runs in N uvicorn worker processes on the main port; they share
everything through the store (a Chroma server), the index and the small SQLite files in the
data directory (keys, briefs, rate counts, the link secret), so any worker answers any
request and sees a change made through another within a second. The chat keeps each
conversation in the memory of the process that serves it (gradio's queue and sessions), so
it runs in one process of its own on `chat_port`; `/ui` on the workers sends browsers there.
Behind a reverse proxy, route /ui and /gradio_api to the chat's port and the rest to the
workers'.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import TYPE_CHECKING

import uvicorn

from kb.errors import KBError
from kb.settings import Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kb.library import Library

_CHAT_URL = "KB_SERVE_CHAT_URL"


def _uvicorn_options(settings: Settings) -> dict[str, object]:
    # X-Forwarded-For is believed only from the proxies the settings trust (none by default).
    trusted = settings.server.trusted_proxies
    return {
        "log_level": "warning",
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) or None,
    }


def _ready_library(settings: Settings) -> Library:
    # Imported here: the supervising process of several workers loads no model, store or app.
    from ingest.isolation import warm_up
    from kb.library import Library

    library = Library(settings)
    library.embed(["warm-up"])  # load the model before the first request, not during it
    library.view()  # open the index (and repair it if it fell behind) before the first search
    warm_up()  # the fork server that reads uploads in processes of their own
    return library


def worker_app() -> FastAPI:
    """One API worker (uvicorn calls this once in each worker process)."""
    from ui.api import create_app

    settings = load_settings()
    return create_app(
        settings, _ready_library(settings), with_chat=False, chat_url=os.environ.get(_CHAT_URL)
    )


def _serve_chat(host: str, port: int) -> None:
    from ui.api import create_app

    settings = load_settings()
    app = create_app(settings, _ready_library(settings))
    uvicorn.run(app, host=host, port=port, **_uvicorn_options(settings))  # type: ignore[arg-type]


def serve(settings: Settings, host: str, port: int, workers: int = 1, chat_port: int = 0) -> None:
    """Serve until interrupted: one process, or `workers` API processes and a chat process."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if workers == 1:
        from ui.api import create_app

        app = create_app(settings, _ready_library(settings))
        uvicorn.run(app, host=host, port=port, **_uvicorn_options(settings))  # type: ignore[arg-type]
        return
    if settings.store.backend != "server":
        raise KBError(
            "Several workers need the Chroma server (KB_STORE__BACKEND=server): embedded "
            "Chroma keeps a private copy of its vector index in each process, so workers "
            "writing to it would overwrite each other's. See the README's Deployment section."
        )
    chat_port = chat_port or port + 1
    # Workers build their settings from the environment, like this process did.
    os.environ["KB_BASE_URL"] = settings.base_url
    if settings.embedder.threads == 0:
        # Model threads shared out: two processes on two cores with two threads each embedded
        # 18% fewer texts a second in all than with one thread each.
        os.environ["KB_EMBEDDER__THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ[_CHAT_URL] = f"http://{host}:{chat_port}/ui/"
    chat = multiprocessing.get_context("spawn").Process(
        target=_serve_chat, args=(host, chat_port), name="kb-chat", daemon=True
    )
    chat.start()
    try:
        uvicorn.run(
            "ui.serving:worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            **_uvicorn_options(settings),  # type: ignore[arg-type]
        )
    finally:
        chat.terminate()
        chat.join(10)
