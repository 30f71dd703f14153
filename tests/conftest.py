"""Shared fixtures: real Settings pointing at temporary folders, and a sample library
ingested once into a temporary Chroma with the bundled model."""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport, run
from kb.library import Library
from kb.settings import Settings, StoreSettings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
EVAL_PDFS = ROOT.parent / "shared" / "eval-data" / "pdfs"
_counter = itertools.count()
# The citation shapes the CLI and the API promise (other tools are written against them).
REFERENCE_FIELDS = {
    "doc_id", "title", "doc_type", "date", "page", "page_label", "source", "url", "superseded_by",
    "view_url",
}  # fmt: skip
CITATION_FIELDS = REFERENCE_FIELDS | {"n", "quote", "chunk_id", "start", "end", "context"}
RESULT_FIELDS = {
    "text", "score", "chunk_id", "start", "end", "section", "citation", "view_url", "similarity",
    "match",
}  # fmt: skip


# `KB_TEST_STORE=server` runs every test that builds its settings here against one real
# `chroma run` for the session (the Makefile runs the e2e tier that way too).
ON_SERVER = os.environ.get("KB_TEST_STORE", "embedded") == "server"
embedded_only = pytest.mark.skipif(ON_SERVER, reason="about embedded Chroma's files on disk")


@functools.cache
def _session_chroma_port() -> int:
    """A `chroma run` on a free loopback port for the whole session, stopped by its PID."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    folder = Path(tempfile.mkdtemp(prefix="kb-test-chroma-"))
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(folder / "db"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=(folder / "chroma.log").open("w"), stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip

    def stop() -> None:
        process.terminate()
        process.wait(20)
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                return port
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"chroma run did not start; see {folder / 'chroma.log'}")


def make_settings(tmp: Path, **overrides: object) -> Settings:
    """Settings isolated in `tmp`, with a collection prefix of their own (on the session's
    Chroma server when KB_TEST_STORE=server)."""
    store = StoreSettings(prefix=f"test{next(_counter)}-{os.getpid()}")
    if ON_SERVER:
        store = store.model_copy(update={"backend": "server", "port": _session_chroma_port()})
    return Settings(data_dir=tmp / "data", corpus_dir=tmp / "corpus", store=store, **overrides)  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a `kb` process (or the CLI in-process) these settings'
    data directory and store."""
    store = settings.store
    return {
        "KB_DATA_DIR": str(settings.data_dir),
        "KB_STORE__PREFIX": store.prefix,
        "KB_STORE__BACKEND": store.backend,
        "KB_STORE__HOST": store.host,
        "KB_STORE__PORT": str(store.port),
    }


def with_members_document(
    tmp: Path, doc_id: str, text: str, title: str, doc_type: str, date: str
) -> Settings:
    """The sample library plus one members-only Markdown document, ingested into `tmp`."""
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / f"{doc_id}.md").write_text(text)
    with (corpus / "catalogue.csv").open("a") as f:
        f.write(f"{doc_id}.md,{title},{doc_type},{date},,en,members\n")
    settings = make_settings(tmp)
    report = run([corpus], settings, progress=False)
    assert report.failed == [] and doc_id in report.added
    return settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KB_DATA_DIR", "KB_CORPUS_DIR", "KB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, IngestReport, Path]:
    """The sample library (a copy of corpus/), ingested once for the session."""
    tmp = tmp_path_factory.mktemp("sample")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp)
    report = run([corpus], settings, progress=False)
    return settings, report, corpus


@pytest.fixture(scope="session")
def library(sample: tuple[Settings, IngestReport, Path]) -> Library:
    return Library(sample[0])
