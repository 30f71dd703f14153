"""Shared fixtures: real Settings pointing at temporary folders, and a sample library
ingested once into a temporary Chroma with the bundled model."""

from __future__ import annotations

import itertools
import shutil
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
    "doc_id", "title", "doc_type", "date", "page", "page_label", "source", "url", "superseded_by"
}  # fmt: skip
CITATION_FIELDS = REFERENCE_FIELDS | {"n", "quote", "chunk_id", "start", "end"}
RESULT_FIELDS = {"text", "score", "chunk_id", "start", "end", "section", "citation"}


def make_settings(tmp: Path, **overrides: object) -> Settings:
    """Settings isolated in `tmp`, with a collection prefix of their own."""
    store = StoreSettings(prefix=f"test{next(_counter)}")
    return Settings(data_dir=tmp / "data", corpus_dir=tmp / "corpus", store=store, **overrides)  # type: ignore[arg-type]


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
