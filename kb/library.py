"""The library: one object holding the embedder, the store and the BM25 index for a process.

Front-ends open one `Library` with their settings and call its plain methods. It notices
changes made by other processes (an ingest while the server runs) through the store's
generation counter, checked at most once a second.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from functools import cached_property

import numpy as np

from kb import snapshot as snapshots
from kb.answer import answer_question
from kb.embedder import Embedder, load_embedder
from kb.errors import DocumentNotFound, EmptyIndex
from kb.search import hybrid_search
from kb.settings import Settings
from kb.store import Store
from kb.types import Access, Answer, Document, Hit, Page, SearchFilters

EVERYONE = (Access.public,)
MEMBERS = (Access.public, Access.members)
_REFRESH_SECONDS = 1.0
_EPOCH = dt.date(1, 1, 1)


class Library:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._checked = 0.0
        self._generation = -1
        self._snapshot: snapshots.Snapshot | None = None
        self._documents: dict[str, Document] = {}

    @cached_property
    def embedder(self) -> Embedder:
        return load_embedder(self.settings.embedder)

    @cached_property
    def store(self) -> Store:
        return Store(self.settings)

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embedder.embed([text])[0]
        return vector

    def _refresh(self) -> None:
        """Reload the document list and BM25 index when another process changed the store."""
        now = time.monotonic()
        if now - self._checked < _REFRESH_SECONDS and self._snapshot is not None:
            return
        with self._lock:
            self._checked = now
            generation = self.store.generation()
            if generation != self._generation or self._snapshot is None:
                self._documents = {d.doc_id: d for d in self.store.documents()}
                retrieval = self.settings.retrieval
                self._snapshot = snapshots.load_or_build(
                    self.store, self.settings.data_dir, (retrieval.bm25_k1, retrieval.bm25_b)
                )
                self._generation = generation

    def invalidate(self) -> None:
        """Check for changes on the next call (after this process changed the store)."""
        self._checked = 0.0

    def snapshot(self) -> snapshots.Snapshot:
        self._refresh()
        assert self._snapshot is not None
        return self._snapshot

    def document_map(self) -> dict[str, Document]:
        self._refresh()
        return self._documents

    # -- what the front-ends call --------------------------------------------------------

    def documents(
        self, access: tuple[Access, ...] = EVERYONE, filters: SearchFilters | None = None
    ) -> list[Document]:
        """The documents the caller may see, newest first."""
        if filters is None or filters.empty:
            docs = list(self.document_map().values())
        else:
            docs = self.store.documents(filters)
        docs = [d for d in docs if d.access in access]
        return sorted(
            docs, key=lambda d: (d.date is None, -(d.date or _EPOCH).toordinal(), d.title)
        )

    def document(self, doc_id: str, access: tuple[Access, ...] = EVERYONE) -> Document:
        doc = self.document_map().get(doc_id)
        # A document the caller may not see does not exist for them.
        if doc is None or doc.access not in access:
            raise DocumentNotFound(doc_id)
        return doc

    def pages(self, doc_id: str, access: tuple[Access, ...] = EVERYONE) -> list[Page]:
        self.document(doc_id, access)
        return self.store.pages(doc_id)

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        access: tuple[Access, ...] = EVERYONE,
    ) -> list[Hit]:
        if not self.document_map():
            raise EmptyIndex()
        return hybrid_search(
            self, query, k or self.settings.retrieval.k, filters or SearchFilters(), access
        )

    def answer(
        self,
        question: str,
        filters: SearchFilters | None = None,
        access: tuple[Access, ...] = EVERYONE,
        passages: int | None = None,
    ) -> Answer:
        if not self.document_map():
            raise EmptyIndex()
        return answer_question(self, question, filters or SearchFilters(), access, passages)
