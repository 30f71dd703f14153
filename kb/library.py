"""The library as this process sees it: the store, the keyword index and vectors (the
snapshot), the embedder and the committed documents, kept in step with the store.

It is the one core object: search (kb/search.py) and answers (kb/answer.py) are functions
of it; ingest and the front-ends go through its named methods and never touch the store.
Changes made by other processes (an ingest while the server runs) are noticed through the
store's generation counter, checked at most once a second.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from kb import snapshot as snapshots
from kb.embedder import Embedder, load_embedder
from kb.errors import DocumentNotFound
from kb.settings import Settings
from kb.store import Store
from kb.text import index_text
from kb.types import (
    EVERYONE,
    Access,
    Chunk,
    Document,
    IndexedChunk,
    Page,
    ParsedDocument,
    SearchFilters,
)

_REFRESH_SECONDS = 1.0
_EPOCH = dt.date(1, 1, 1)


class Library:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._checked = 0.0
        self._generation = -1
        self._documents: dict[str, Document] = {}
        self._snapshot: snapshots.Snapshot | None = None

    @cached_property
    def _store(self) -> Store:
        return Store(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        return load_embedder(self.settings.embedder)

    # -- keeping in step with the store --------------------------------------------------

    def _refresh(self) -> None:
        """Reload the document list when another process changed the store (the snapshot
        follows lazily: a process that only lists documents never builds it)."""
        now = time.monotonic()
        if now - self._checked < _REFRESH_SECONDS and self._generation >= 0:
            return
        with self._lock:
            self._checked = now
            generation = self._store.generation()
            if generation != self._generation:
                self._documents = {d.doc_id: d for d in self._store.documents()}
                self._generation = generation

    def invalidate(self) -> None:
        """Check for changes on the next call (after this process changed the store)."""
        self._checked = 0.0

    def snapshot(self) -> snapshots.Snapshot:
        """The keyword index and vectors of the current generation (or a newer one). Built
        under a lock of its own, so listing documents or checking health never waits for it."""
        self._refresh()
        current = self._snapshot
        if current is not None and current.generation >= self._generation:
            return current
        with self._build_lock:
            current = self._snapshot
            if current is None or current.generation < self._generation:
                retrieval = self.settings.retrieval
                current = snapshots.load_or_build(
                    self._store, self.settings.data_dir, (retrieval.bm25_k1, retrieval.bm25_b)
                )
                self._snapshot = current
            return current

    def document_map(self, access: Sequence[Access] = EVERYONE) -> dict[str, Document]:
        """The committed documents the caller may see, by id."""
        self._refresh()
        return {k: d for k, d in self._documents.items() if d.access in access}

    # -- reading -------------------------------------------------------------------------

    def documents(
        self, access: Sequence[Access] = EVERYONE, filters: SearchFilters | None = None
    ) -> list[Document]:
        """The documents the caller may see (and the filters keep), newest first."""
        if filters is None or filters.empty:
            docs = list(self.document_map(access).values())
        else:
            docs = [d for d in self._store.documents(filters) if d.access in access]
        return sorted(
            docs, key=lambda d: (d.date is None, -(d.date or _EPOCH).toordinal(), d.title)
        )

    def document(self, doc_id: str, access: Sequence[Access] = EVERYONE) -> Document:
        """One document; one the caller may not see does not exist for them."""
        doc = self.document_map(access).get(doc_id)
        if doc is None:
            raise DocumentNotFound(doc_id)
        return doc

    def newer_version(self, doc: Document, access: Sequence[Access] = EVERYONE) -> str | None:
        """The id of the document that supersedes this one, if the caller may see it. The
        catalogue names it by id or by file path (relative to the catalogue's folder)."""
        if not doc.superseded_by:
            return None
        visible = self.document_map(access)
        named = doc.superseded_by.strip()
        if named in visible:
            return named
        stem = re.sub(r"\.[A-Za-z0-9]+$", "", named.replace("\\", "/"))
        wanted = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
        return next((d for d in visible if d == wanted or d.endswith("-" + wanted)), None)

    def pages(self, doc_id: str, access: Sequence[Access] = EVERYONE) -> list[Page]:
        """A document's cleaned page texts, as stored at ingest (what quotes are checked
        against)."""
        self.document(doc_id, access)
        return self._store.pages(doc_id)

    def chunk(self, chunk_id: str, access: Sequence[Access] = EVERYONE) -> IndexedChunk | None:
        """One passage by id, if the caller may see its document."""
        found = self.snapshot().chunk(chunk_id)
        if found is None or found.chunk.doc_id not in self.document_map(access):
            return None
        return found

    def document_chunks(self, doc_id: str, access: Sequence[Access] = EVERYONE) -> list[Chunk]:
        """A document's passages in reading order (none if the caller may not see it)."""
        self.document(doc_id, access)
        return [c.chunk for c in self.snapshot().document_chunks(doc_id)]

    def chunk_count(self, access: Sequence[Access] = EVERYONE) -> int:
        return self._store.chunk_count(access)

    def chunks(self) -> list[IndexedChunk]:
        """Every stored chunk (for benchmarks and consistency checks)."""
        return list(self._store.iter_chunks())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for texts (one model call per batch)."""
        return self.embedder.embed(list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embedder.embed([text])[0]
        return vector

    def dense_search(
        self, vector: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> list[tuple[IndexedChunk, float]]:
        """The k chunks nearest a query vector among those the caller may see."""
        if filters.empty:  # the common query: HNSW over the allowed collections
            return self._store.dense_search(vector, k, filters, access)
        # exact search over the masked snapshot beats a filtered HNSW query (see snapshot.py)
        return self.snapshot().dense_search(vector, k, filters, access)

    # -- writing (ingest holds the write lock) -------------------------------------------

    def stored_documents(self) -> list[Document]:
        """Every committed document, read from the store now (what an ingest compares with)."""
        return self._store.documents()

    def add_document(self, parsed: ParsedDocument, chunks: Sequence[Chunk]) -> None:
        """Embed a document's chunks (with its title, section and acronyms) and its title,
        and write it whole, replacing the document with the same id."""
        doc = parsed.document
        texts = [index_text(doc.title, c.section, c.text, c.aliases) for c in chunks]
        vectors = self.embed([*texts, doc.title])
        self._store.write_document(parsed, chunks, vectors[:-1], vectors[-1])
        self.invalidate()

    def update_document(self, doc: Document) -> None:
        """Change a document's catalogue fields without re-embedding it."""
        self._store.update_metadata(doc)
        self.invalidate()

    def remove_document(self, doc_id: str) -> None:
        self._store.delete_document(doc_id)
        self.invalidate()

    def clear_unfinished(self) -> list[str]:
        """Remove documents a crashed write left half-done; returns their ids."""
        unfinished = self._store.pending_documents()
        for doc_id in unfinished:
            self._store.delete_document(doc_id)
        self.invalidate()
        return unfinished

    def generation(self) -> int:
        """The store's change counter (another process's change shows here at once)."""
        return self._store.generation()

    def prepare_readers(self) -> None:
        """Build the snapshot now, in the writer, so readers load it instead of building."""
        self.invalidate()
        self.snapshot()
