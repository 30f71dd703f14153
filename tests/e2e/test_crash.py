"""A kill -9 inside the write window of a document (its chunks in, not yet committed), made
to land there every time by the fault-injection setting; then the same `kb ingest` again
ends exactly where a clean run does. For the embedded store and for a real Chroma server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.pipeline import run
from kb.library import Library
from kb.settings import Settings, StoreSettings
from kb.types import MEMBERS
from tests.conftest import ROOT
from tests.e2e.serving import chroma_server

pytestmark = pytest.mark.e2e
FILES = {
    "a-seasonal.md": "# Seasonal work\n\nSeasonal permits last nine months in agriculture.\n",
    "b-blue-card.md": "# Blue Card\n\nThe Blue Card needs a salary threshold and a degree.\n",
    "c-pensions.md": "# Pensions\n\nPension rights stay portable when workers return home.\n",
}


@contextmanager
def _store(backend: str, tmp: Path) -> Iterator[dict[str, str]]:
    """Environment for `kb` processes using this backend."""
    if backend == "embedded":
        yield {"KB_STORE__PREFIX": "crash"}
        return
    with chroma_server(tmp / "chroma") as port:
        yield {
            "KB_STORE__BACKEND": "server",
            "KB_STORE__PORT": str(port),
            "KB_STORE__PREFIX": "crash",
        }


def _ingest(folder: Path, data_dir: Path, env: dict[str, str]) -> int:
    result = subprocess.run(
        [sys.executable, "-m", "ui", "ingest", str(folder)],
        cwd=ROOT,
        env={**os.environ, "KB_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode


def _state(settings: Settings) -> tuple[list[str], list[str]]:
    library = Library(settings)
    chunks = sorted(c.chunk.chunk_id for c in library.chunks())
    return sorted(d.doc_id for d in library.documents(MEMBERS)), chunks


def _settings(data_dir: Path, env: dict[str, str]) -> Settings:
    store = StoreSettings(
        backend=env.get("KB_STORE__BACKEND", "embedded"),  # type: ignore[arg-type]
        port=int(env.get("KB_STORE__PORT", "8001")),
        prefix=env["KB_STORE__PREFIX"],
    )
    return Settings(data_dir=data_dir, store=store)


@pytest.mark.parametrize("backend", ["embedded", "server"])
def test_a_kill_inside_the_write_window_then_a_rerun_equals_a_clean_run(
    backend: str, tmp_path: Path
) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    with _store(backend, tmp_path) as env:
        clean = _settings(tmp_path / "clean", {**env, "KB_STORE__PREFIX": "clean"})
        run([folder], clean, progress=False)
        crashed = tmp_path / "crashed"
        code = _ingest(folder, crashed, {**env, "KB_STORE__FAULT_KILL_MID_WRITE": "2"})
        assert code == -signal.SIGKILL
        settings = _settings(crashed, env)
        # The first document is committed; the second's chunks are stored but not visible.
        docs, chunks = _state(settings)
        assert docs == ["a-seasonal"]
        assert len(chunks) == 2  # a-seasonal's, and b-blue-card's uncommitted one
        assert _ingest(folder, crashed, env) == 0
        assert _state(settings) == _state(clean)


def test_a_chroma_server_that_goes_away_is_a_503_and_the_product_recovers(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from kb.settings import ServerSettings
    from tests.e2e.serving import free_port
    from ui.api import create_app

    folder = tmp_path / "library"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    port = free_port()
    store = StoreSettings(backend="server", port=port, prefix="gone")
    settings = Settings(
        data_dir=tmp_path / "data",
        store=store,
        server=ServerSettings(requests_per_minute=100_000),
    )
    query = {"query": "How long do seasonal permits last?"}
    with chroma_server(tmp_path / "chroma", port):
        run([folder], settings, progress=False)
        app = create_app(settings, Library(settings), with_chat=False)
        client = TestClient(app)
        assert client.post("/api/search", json=query).status_code == 200
    import time

    time.sleep(1.1)  # past the library's once-a-second look at the store
    down = client.post("/api/search", json=query)
    assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    assert "Chroma server" in down.json()["detail"] and "not answering" in down.json()["detail"]
    assert client.get("/api/health").status_code == 503
    with chroma_server(tmp_path / "chroma", port):  # the same data, back on its port
        time.sleep(1.1)
        back = client.post("/api/search", json=query)
        assert back.status_code == 200, back.text
        assert back.json()["results"][0]["citation"]["doc_id"] == "a-seasonal"
