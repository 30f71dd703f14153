"""The library as this process sees it: the store, the search index (kb/index.py), the
embedder and the committed documents, kept in step with the store.

It is the one core object: search (kb/search.py) and answers (kb/answer.py) are functions
of it; ingest and the front-ends go through its named methods and never touch the store.
Every write goes to the store first (the source of truth) and then to the index, one
document at a time. Other processes notice a change by the index's version (read on every
request) and the store's generation (checked at most once a second); when the two disagree
and no writer is at work (a crash between the two writes, an older release's write), a
reader repairs the index: only the documents that differ are indexed again.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from kb.embedder import Embedder, load_embedder
from kb.errors import DocumentNotFound, IndexBusy
from kb.index import Index, View, signature
from kb.locks import write_lock
from kb.sentences import SentenceVectors
from kb.settings import Settings
from kb.store import Store
from kb.text import index_text, quotable_sentences
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
from kb.when import Events

logger = logging.getLogger(__name__)
_REFRESH_SECONDS = 1.0
_SEGMENT_CHUNKS = 50_000
_RECENT_QUERIES = 64
_EPOCH = dt.date(1, 1, 1)


class Library:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._checked = 0.0
        self._generation = -1
        self._index_version = -1
        self._warned = False
        self._documents: dict[str, Document] = {}
        self._recent_queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()  # not the refresh's: a repair may take a while
        self._changed_up_to = 0
        self._visible_documents: dict[tuple[int, tuple[Access, ...]], dict[str, Document]] = {}

    @cached_property
    def events(self) -> Events:
        """Named events questions date themselves by (the corpus folder's events.csv)."""
        return Events.read(self.settings.corpus_dir / "events.csv")

    @cached_property
    def _store(self) -> Store:
        return Store(self.settings)

    @cached_property
    def _index(self) -> Index:
        retrieval = self.settings.retrieval
        folder, bm25 = self.settings.data_dir / "index", (retrieval.bm25_k1, retrieval.bm25_b)
        lists = (retrieval.probe_share, retrieval.clustered_from)
        # Releases before the index kept pickled snapshots here (hundreds of MB at scale).
        shutil.rmtree(self.settings.data_dir / "snapshot", ignore_errors=True)
        try:
            return Index(folder, bm25, *lists)
        except sqlite3.DatabaseError:  # a damaged manifest: the store rebuilds it
            shutil.rmtree(folder, ignore_errors=True)
            return Index(folder, bm25, *lists)

    @cached_property
    def embedder(self) -> Embedder:
        return load_embedder(self.settings.embedder)

    # -- keeping in step with the store --------------------------------------------------

    def _refresh(self) -> None:
        """Bring this process's document list up to date when the index or the store changed
        (checked on every call, at most once a second for the store). The list comes from
        the index's manifest, read in proportion to what changed; an index behind the store
        (a crash between the two writes, a release upgrade) is repaired first when no writer
        is at work."""
        now = time.monotonic()
        version = self._index.version()
        if (
            version == self._index_version
            and now - self._checked < _REFRESH_SECONDS
            and self._generation >= 0
        ):
            return
        with self._lock:
            self._checked = now
            generation = self._store.generation()
            if self._index.store_generation() != generation:
                try:
                    with write_lock(self.settings.data_dir):
                        self.reconcile_index()
                except IndexBusy:
                    pass  # a writer is at work: it keeps the index in step itself
                version = self._index.version()
            if generation != self._generation or version != self._index_version:
                self._load_documents(version)
                self._generation = generation
                self._index_version = version

    def _load_documents(self, version: int) -> None:
        """The documents the index holds: only those changed since the last look (all after
        a reset or when the index was replaced)."""
        since = self._changed_up_to if version >= self._index_version else 0
        changed, count = self._index.records(since)
        documents = {} if since == 0 else dict(self._documents)
        documents.update((d.doc_id, d) for d in changed)
        if len(documents) != count:  # some were removed
            present = self._index.document_ids()
            documents = {k: d for k, d in documents.items() if k in present}
        self._documents = documents  # replaced whole, never modified: readers share it
        self._changed_up_to = version

    def invalidate(self) -> None:
        """Check for changes on the next call (after this process changed the store)."""
        self._checked = 0.0

    def view(self) -> View:
        """The search index as of now (repaired first if it fell behind the store while no
        writer is at work)."""
        self._refresh()
        self._check_embedder()
        try:
            return self._index.view()
        except (OSError, ValueError, sqlite3.DatabaseError):
            # A damaged segment (a disk error, a copy cut short): rebuild from the store.
            with write_lock(self.settings.data_dir):
                self._index.reset()
                self.reconcile_index()
            return self._index.view()

    def stale_embedder(self) -> str | None:
        """The model the passages were embedded with, when it is not the configured one."""
        recorded = self._index.embedder()
        return recorded if recorded and recorded != self.settings.embedder.name else None

    def record_embedder(self) -> None:
        """Every passage now comes from the configured model (an ingest re-embedded them)."""
        self._index.record_embedder(self.settings.embedder.name)

    def _check_embedder(self) -> None:
        """Say once when questions are embedded with another model than the passages were (a
        changed KB_EMBEDDER__NAME): answers still come, but closeness is measured across two
        models until `kb ingest --reindex`."""
        if self._warned:
            return
        self._warned = True  # checked once per process
        if recorded := self.stale_embedder():
            logger.warning(
                "The library's passages were embedded with '%s' and questions now are with "
                "'%s': run `kb ingest --reindex` to embed the passages again.",
                recorded,
                self.settings.embedder.name,
            )

    def document_map(self, access: Sequence[Access] = EVERYONE) -> dict[str, Document]:
        """The committed documents the caller may see, by id."""
        self._refresh()
        documents = self._documents  # replaced whole on a change, never modified
        key = (id(documents), tuple(sorted(access)))
        cached = self._visible_documents.get(key)
        if cached is None:
            cached = {k: d for k, d in documents.items() if d.access in access}
            self._visible_documents = {key: cached}  # only the current list's
        return dict(cached)

    # -- reading -------------------------------------------------------------------------

    def documents(
        self, access: Sequence[Access] = EVERYONE, filters: SearchFilters | None = None
    ) -> list[Document]:
        """The documents the caller may see (and the filters keep), newest first."""
        docs = [
            d for d in self.document_map(access).values() if filters is None or filters.keeps(d)
        ]
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
        found = self.view().chunk(chunk_id)
        if found is None or found.chunk.doc_id not in self.document_map(access):
            return None
        return found

    def document_chunks(self, doc_id: str, access: Sequence[Access] = EVERYONE) -> list[Chunk]:
        """A document's passages in reading order (none if the caller may not see it)."""
        self.document(doc_id, access)
        return [c.chunk for c in self.view().document_chunks(doc_id)]

    def chunk_count(self, access: Sequence[Access] = EVERYONE) -> int:
        return self._store.chunk_count(access)

    def chunks(self) -> list[IndexedChunk]:
        """Every stored chunk (for benchmarks and consistency checks)."""
        return list(self._store.iter_chunks())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for texts (one model call per batch)."""
        return self.embedder.embed(list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        """A question's vector (the last few are remembered: a search and the answer
        composed from it embed the same question)."""
        with self._queries_lock:
            vector = self._recent_queries.get(text)
        if vector is None:
            vector = self.embedder.embed([text])[0]
            with self._queries_lock:
                self._recent_queries[text] = vector
                while len(self._recent_queries) > _RECENT_QUERIES:
                    self._recent_queries.popitem(last=False)
        return vector

    @cached_property
    def _sentence_vectors(self) -> SentenceVectors:
        return SentenceVectors(self.settings.data_dir, self.settings.embedder.name)

    def embed_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        """Vectors of sentences: kept ones read (kb/sentences.py), the rest embedded in one
        model call and kept."""
        if not sentences:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        found = self._sentence_vectors.get(sentences)
        missing = list(dict.fromkeys(s for s in sentences if s not in found))
        if missing:
            vectors = self.embed(missing)
            self._sentence_vectors.put(missing, vectors)
            found.update(zip(missing, vectors, strict=True))
        return np.array([found[s] for s in sentences], dtype=np.float32)

    # -- writing (ingest holds the write lock) -------------------------------------------

    def stored_documents(self) -> list[Document]:
        """Every committed document as of now (what an ingest compares with). A writer
        reconciles the index with the store first (`clear_unfinished`)."""
        self.invalidate()
        return list(self.document_map(tuple(Access)).values())

    def add_document(
        self, parsed: ParsedDocument, chunks: Sequence[Chunk], vectors: np.ndarray | None = None
    ) -> None:
        """Embed a document's chunks (with its title, section and acronyms) and its title,
        and write it whole, replacing the document with the same id. `vectors` (one per
        chunk, then the title's) skips the embedding: for imports and benchmarks."""
        doc = parsed.document
        if vectors is None:
            texts = [index_text(doc.title, c.section, c.text, c.aliases) for c in chunks]
            vectors = self.embed([*texts, doc.title])
            if self.settings.answer.sentence_vectors_at_ingest:
                self.embed_sentences(
                    [c.text[a:b] for c in chunks for a, b in quotable_sentences(c.text)]
                )
        self.add_documents([(parsed, chunks, vectors)])

    def add_documents(
        self, items: Sequence[tuple[ParsedDocument, Sequence[Chunk], np.ndarray]]
    ) -> None:
        """Write documents with their vectors (one per chunk, then the title's) in one go:
        one store call per step and one index segment for all of them (a bulk import)."""
        self._store.write_documents([(p, c, v[:-1], v[-1]) for p, c, v in items])
        docs = [p.document.model_copy(update={"chunks": len(c)}) for p, c, _ in items]
        chunks = [chunk for _, c, _ in items for chunk in c]
        vectors = np.concatenate([v[:-1] for _, _, v in items])
        self._index.add(docs, chunks, vectors, self._store.generation())
        if not self._index.embedder():  # a model change is recorded by the re-embedding ingest
            self._index.record_embedder(self.settings.embedder.name)
        self.invalidate()

    def update_document(self, doc: Document) -> None:
        """Change a document's catalogue fields without re-embedding it."""
        self._store.update_metadata(doc)
        self._index.update([doc], self._store.generation())
        self.invalidate()

    def remove_document(self, doc_id: str) -> None:
        self._store.delete_document(doc_id)
        self._index.remove([doc_id], self._store.generation())
        self.invalidate()

    def clear_unfinished(self) -> list[str]:
        """Remove documents a crashed write left half-done, and bring the index in step with
        the store; returns the ids removed. The caller holds the write lock."""
        unfinished = self._store.pending_documents()
        for doc_id in unfinished:
            self._store.delete_document(doc_id)
        self.reconcile_index()
        self.invalidate()
        return unfinished

    def reconcile_index(self, always: bool = False) -> None:
        """Index what the store holds and the index lacks or holds differently, and drop what
        the store no longer holds: work in proportion to the difference. Nothing to do (one
        read) when the index was written after the store's last change, unless `always`. The
        caller holds the write lock."""
        generation = self._store.generation()
        if not always and self._index.store_generation() == generation:
            return
        stored = {d.doc_id: d for d in self._store.documents()}
        indexed = self._index.documents()
        gone = [d for d in indexed if d not in stored]
        missing = [
            d
            for d in stored.values()
            if d.doc_id not in indexed or indexed[d.doc_id][-1] != signature(d)
        ]
        renewed = {d.doc_id for d in missing}
        records = self._index.record_of()
        changed = [
            d
            for d in stored.values()
            if d.doc_id not in renewed and records[d.doc_id] != d.model_dump_json()
        ]
        if gone:
            self._index.remove(gone)
        if changed:
            self._index.update(changed)
        if missing:
            self._index_from_store(missing)
        self._index.mark_reconciled(generation)

    def _index_from_store(self, docs: list[Document]) -> None:
        """Index documents from their stored chunks and vectors, in segments of about
        `_SEGMENT_CHUNKS` passages (one read of everything when most of the library is new)."""
        wanted = {d.doc_id for d in docs}
        if len(docs) > 200:
            everything = self._store.iter_chunks_with_vectors()
            pairs = [(c, v) for c, v in everything if c.chunk.doc_id in wanted]
        else:
            pairs = self._store.document_chunks_with_vectors(sorted(wanted))
        by_doc: dict[str, list[tuple[Chunk, np.ndarray]]] = {d: [] for d in wanted}
        for indexed, vector in pairs:
            by_doc[indexed.chunk.doc_id].append((indexed.chunk, vector))
        batch: list[Document] = []
        batch_chunks: list[tuple[Chunk, np.ndarray]] = []
        for doc in docs:
            own = sorted(by_doc[doc.doc_id], key=lambda p: (p[0].page or 0, p[0].start))
            batch.append(doc)
            batch_chunks += own
            if len(batch_chunks) >= _SEGMENT_CHUNKS or doc is docs[-1]:
                vectors = np.array([v for _, v in batch_chunks], dtype=np.float32)
                self._index.add(batch, [c for c, _ in batch_chunks], vectors)
                batch, batch_chunks = [], []

    def copy_store_to(self, target: Library, progress: Callable[[int], None] | None = None) -> int:
        """Write every committed document (pages, chunks, vectors) into another library's
        store, and index it there: a backup, a restore, or a move between an embedded store
        and a Chroma server. Returns the number of documents copied."""
        docs = self._store.documents()
        for start in range(0, len(docs), 50):
            batch = docs[start : start + 50]
            titles = self._store.title_vectors([d.doc_id for d in batch])
            chunks: dict[str, list[tuple[Chunk, np.ndarray]]] = {d.doc_id: [] for d in batch}
            for indexed, vector in self._store.document_chunks_with_vectors(list(chunks)):
                chunks[indexed.chunk.doc_id].append((indexed.chunk, vector))
            for doc in batch:
                own = sorted(chunks[doc.doc_id], key=lambda p: (p[0].page or 0, p[0].start))
                parsed = ParsedDocument(document=doc, pages=tuple(self._store.pages(doc.doc_id)))
                vectors = np.array([v for _, v in own] + [titles[doc.doc_id]], dtype=np.float32)
                target.add_document(parsed, [c for c, _ in own], vectors)
            if progress is not None:
                progress(len(batch))
        return len(docs)

    def close(self) -> None:
        """Let go of the store and the index (their files may be replaced afterwards)."""
        if "_store" in self.__dict__:
            self._store.close()
            del self.__dict__["_store"]
        if "_index" in self.__dict__:
            self._index.close()
            del self.__dict__["_index"]
        if "_sentence_vectors" in self.__dict__:
            self._sentence_vectors.close()
            del self.__dict__["_sentence_vectors"]

    def index_version(self) -> int:
        """The index's change counter (every change through any process moves it)."""
        return self._index.version()

    def generation(self) -> int:
        """The store's change counter (another process's change shows here at once)."""
        return self._store.generation()

    def prepare_readers(self) -> None:
        """Check the index against the store (a writer calls this before it lets go of the
        write lock, so readers find the index in step)."""
        self.reconcile_index()
        self.invalidate()
