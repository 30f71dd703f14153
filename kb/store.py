"""The vector store: the only module that touches chromadb.

Layout (one Chroma database, embedded or a server):
- `{prefix}-chunks-public` and `{prefix}-chunks-members`: one collection per access level, so
  an anonymous query searches the public collection with no access filter at all (a broad
  `where` filter costs ~400 ms at 100k chunks; an unfiltered query ~9 ms) and can never touch
  a members-only passage.
- `{prefix}-documents`: one record per document: catalogue metadata, the cleaned page texts
  (what every quote is checked against), the title embedding, and a status. A document is
  written `pending`, then its chunks, then marked `ready`: the ready mark is the commit, and a
  pending record left by a crash tells the next run which chunks to clear.
- The documents collection's metadata carries a `generation` counter, bumped on every change,
  so that other processes (API workers, a server running beside `kb ingest`) notice.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from kb.errors import StoreUnavailable
from kb.settings import Settings
from kb.types import (
    Access,
    Chunk,
    DocType,
    Document,
    Heading,
    IndexedChunk,
    Page,
    ParsedDocument,
    SearchFilters,
)

# A document to write: its pages, its chunks, their vectors, and its title's vector.
StoredDocument = tuple[ParsedDocument, Sequence[Chunk], np.ndarray, np.ndarray]

_READY = "ready"
_PENDING = "pending"
_ALIAS_SEPARATOR = " | "  # Chroma metadata holds strings, not lists


def date_number(value: dt.date | None) -> int:
    """A date as YYYYMMDD: Chroma compares numbers, not strings. It stays in this module."""
    return value.year * 10000 + value.month * 100 + value.day if value else 0


def _date_of(number: int) -> dt.date | None:
    return dt.date(number // 10000, number // 100 % 100, number % 100) if number else None


def _drop_none(meta: dict[str, Any]) -> dict[str, Any]:
    # Chroma metadata values cannot be None.
    return {k: v for k, v in meta.items() if v is not None}


def _chunk_metadata(chunk: Chunk, doc: Document) -> dict[str, Any]:
    return _drop_none(
        {
            "doc_id": doc.doc_id,
            "title": doc.title,
            "doc_type": doc.doc_type.value,
            "date": date_number(doc.date),
            "language": doc.language,
            "page": chunk.page,
            "page_label": chunk.page_label,
            "start": chunk.start,
            "end": chunk.end,
            "section": chunk.section,
            "aliases": _ALIAS_SEPARATOR.join(chunk.aliases) or None,
        }
    )


def _document_metadata(doc: Document, status: str) -> dict[str, Any]:
    meta = doc.model_dump(mode="json")
    meta["date"] = date_number(doc.date)
    meta["status"] = status
    return _drop_none(meta)


def _pages_json(parsed: ParsedDocument) -> str:
    pages = [
        {
            "number": p.number,
            "label": p.label,
            "text": p.text,
            "headings": [(h.offset, h.text) for h in p.headings],
        }
        for p in parsed.pages
    ]
    return json.dumps(pages, ensure_ascii=False)


def _document_from_metadata(meta: dict[str, Any]) -> Document:
    fields = {k: v for k, v in meta.items() if k in Document.model_fields}
    return Document(date=_date_of(int(fields.pop("date", 0) or 0)), **fields)


def _indexed_chunk(chunk_id: str, text: str, meta: dict[str, Any], access: Access) -> IndexedChunk:
    chunk = Chunk(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        text=text,
        page=meta.get("page"),
        page_label=meta.get("page_label"),
        start=meta.get("start", 0),
        end=meta.get("end", len(text)),
        section=meta.get("section"),
        aliases=tuple(a for a in meta.get("aliases", "").split(_ALIAS_SEPARATOR) if a),
    )
    return IndexedChunk(
        chunk=chunk,
        access=access,
        doc_type=DocType(meta.get("doc_type", "other")),
        date=_date_of(int(meta.get("date", 0))),
        language=meta.get("language", ""),
        title=meta.get("title", ""),
    )


def filter_clause(filters: SearchFilters) -> dict[str, Any] | None:
    """The Chroma `where` clause for catalogue filters (None when there are none)."""
    clauses: list[dict[str, Any]] = []
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": [t.value for t in filters.doc_types]}})
    if filters.languages:
        clauses.append({"language": {"$in": list(filters.languages)}})
    if filters.date_from:
        clauses.append({"date": {"$gte": date_number(filters.date_from)}})
    if filters.date_to:
        clauses.append({"date": {"$lte": date_number(filters.date_to)}})
    # An undated document never matches a date range.
    if filters.date_from is None and filters.date_to is not None:
        clauses.append({"date": {"$gt": 0}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _unavailable(where: str, error: Exception) -> StoreUnavailable:
    return StoreUnavailable(
        f"The library's store (the Chroma server at {where}) is not answering: "
        f"{type(error).__name__}. Try again in a moment."
    )


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    """A Chroma server that is down or goes away mid-request becomes StoreUnavailable (the
    API answers 503); the next call simply tries again, so the product recovers by itself."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Store, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(self, *args, **kwargs)
            except httpx.TransportError as e:
                raise _unavailable(self.where, e) from e

        return generator

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except httpx.TransportError as e:
            raise _unavailable(self.where, e) from e

    return wrapper


class Store:
    """Documents and their chunk vectors in Chroma, one collection per access level."""

    def __init__(self, settings: Settings) -> None:
        self.where = f"{settings.store.host}:{settings.store.port}"
        try:
            self._connect(settings)
        except httpx.TransportError as e:
            raise _unavailable(self.where, e) from e

    def _connect(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.store.backend == "server":
            token = settings.store.auth_token
            self._client = chromadb.HttpClient(
                host=settings.store.host,
                port=settings.store.port,
                ssl=settings.store.ssl,
                headers={"Authorization": f"Bearer {token.get_secret_value()}"} if token else None,
                settings=chroma_settings,
            )
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(  # forget_folder() knows this key
                path=str(settings.data_dir / "chroma"), settings=chroma_settings
            )
        self._batch = min(1000, self._client.get_max_batch_size())
        self._written = 0
        self._kill_mid_write = settings.store.fault_kill_mid_write
        prefix = settings.store.prefix
        hnsw = {
            "space": "cosine",
            "ef_search": settings.store.hnsw_ef_search,
            "ef_construction": settings.store.hnsw_ef_construction,
            "max_neighbors": settings.store.hnsw_max_neighbors,
        }
        # embedding_function=None on every create/get: Chroma's default downloads a model.
        self._chunks = {
            access: self._client.get_or_create_collection(
                f"{prefix}-chunks-{access.value}",
                embedding_function=None,
                configuration={"hnsw": hnsw},  # type: ignore[arg-type]
            )
            for access in Access
        }
        self._documents = self._client.get_or_create_collection(
            f"{prefix}-documents",
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"generation": 0},
        )

    def close(self) -> None:
        """Release the client (an embedded store's files are let go once the last client of
        the same folder in this process closes)."""
        client: Any = self._client  # ClientAPI does not declare close(); Client has it
        client.close()

    @staticmethod
    def forget_folder(data_dir: Path) -> None:
        """Drop this process's cached Chroma instance of an embedded store whose files are
        about to be replaced (a restore): chromadb shares one instance per folder in a
        process, and a stale one would keep serving what the old files held."""
        from chromadb.api.shared_system_client import SharedSystemClient

        key = str(data_dir / "chroma")
        system = SharedSystemClient._identifier_to_system.pop(key, None)
        SharedSystemClient._identifier_to_refcount.pop(key, None)
        if system is not None:
            system.stop()

    # -- reading -------------------------------------------------------------------------

    def generation(self) -> int:
        """A counter bumped on every change, cheap to poll (~0.3 ms)."""
        meta = self._client.get_collection(self._documents.name, embedding_function=None).metadata
        return int((meta or {}).get("generation", 0))

    def documents(self, filters: SearchFilters | None = None) -> list[Document]:
        """All committed documents, or those the catalogue filters keep."""
        clause = filter_clause(filters) if filters else None
        where: Any = {"$and": [{"status": _READY}, clause]} if clause else {"status": _READY}
        got = self._documents.get(where=where, include=["metadatas"])
        return [_document_from_metadata(dict(m)) for m in got["metadatas"] or []]

    def pending_documents(self) -> list[str]:
        """Documents whose write did not finish (a crash mid-ingest)."""
        got = self._documents.get(where={"status": _PENDING}, include=[])
        return list(got["ids"])

    def document(self, doc_id: str) -> Document | None:
        got = self._documents.get(ids=[doc_id], include=["metadatas"])
        metas = got["metadatas"] or []
        if not metas or metas[0].get("status") != _READY:
            return None
        return _document_from_metadata(dict(metas[0]))

    def pages(self, doc_id: str) -> list[Page]:
        """The cleaned page texts of a document, as stored at ingest."""
        got = self._documents.get(ids=[doc_id], include=["documents"])
        texts = got["documents"] or []
        if not texts or not texts[0]:
            return []
        return [
            Page(
                number=p.get("number"),
                label=p.get("label"),
                text=p["text"],
                headings=tuple(Heading(offset=o, text=t) for o, t in p.get("headings", [])),
            )
            for p in json.loads(texts[0])
        ]

    def chunk_count(self, access: Sequence[Access] = tuple(Access)) -> int:
        """Stored chunks at these access levels."""
        return sum(self._chunks[level].count() for level in access)

    def iter_chunks(self) -> Iterator[IndexedChunk]:
        """Every stored chunk, page by page."""
        for chunk, _ in self._iter_chunks(with_vectors=False):
            yield chunk

    def iter_chunks_with_vectors(self) -> Iterator[tuple[IndexedChunk, np.ndarray]]:
        """Every stored chunk with its vector (for building the index from scratch)."""
        for chunk, vector in self._iter_chunks(with_vectors=True):
            assert vector is not None
            yield chunk, vector

    def title_vectors(self, doc_ids: Sequence[str]) -> dict[str, np.ndarray]:
        got = self._documents.get(ids=list(doc_ids), include=["embeddings"])
        vectors = got["embeddings"]
        assert vectors is not None
        return {
            d: np.asarray(v, dtype=np.float32) for d, v in zip(got["ids"], vectors, strict=True)
        }

    def document_chunks_with_vectors(
        self, doc_ids: Sequence[str]
    ) -> list[tuple[IndexedChunk, np.ndarray]]:
        """Some documents' chunks with their vectors (for indexing them one by one)."""
        found = []
        for access, collection in self._chunks.items():
            for start in range(0, len(doc_ids), 100):
                wanted: Any = {"doc_id": {"$in": list(doc_ids[start : start + 100])}}
                got = collection.get(
                    where=wanted,
                    include=["documents", "metadatas", "embeddings"],
                )
                vectors = got["embeddings"]
                assert vectors is not None
                for cid, text, meta, vector in zip(
                    got["ids"], got["documents"] or [], got["metadatas"] or [], vectors,
                    strict=True,
                ):  # fmt: skip
                    chunk = _indexed_chunk(cid, text or "", dict(meta), access)
                    found.append((chunk, np.asarray(vector, dtype=np.float32)))
        return found

    def _iter_chunks(self, with_vectors: bool) -> Iterator[tuple[IndexedChunk, np.ndarray | None]]:
        include: Any = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        for access, collection in self._chunks.items():
            for offset in range(0, collection.count(), self._batch):
                got = collection.get(include=include, limit=self._batch, offset=offset)
                vectors = got["embeddings"] if with_vectors else None
                for i, (cid, text, meta) in enumerate(
                    zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
                ):
                    vector = None if vectors is None else np.asarray(vectors[i], dtype=np.float32)
                    yield _indexed_chunk(cid, text or "", dict(meta), access), vector

    # -- writing -------------------------------------------------------------------------

    def write_document(
        self,
        parsed: ParsedDocument,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        title_vector: np.ndarray,
    ) -> None:
        """Replace a document with its new chunks; it becomes visible only once all are in."""
        self.write_documents([(parsed, chunks, vectors, title_vector)])

    def write_documents(self, items: Sequence[StoredDocument]) -> None:
        """Replace documents with their new chunks (one call per step for all of them: a
        bulk import); they become visible only once all are in."""
        docs = [p.document.model_copy(update={"chunks": len(c)}) for p, c, _, _ in items]
        ids = [d.doc_id for d in docs]
        replacing = set(self._documents.get(ids=ids, include=[])["ids"])
        self._documents.upsert(
            ids=ids,
            embeddings=[title.tolist() for *_, title in items],
            documents=[_pages_json(parsed) for parsed, *_ in items],
            metadatas=[_document_metadata(doc, _PENDING) for doc in docs],
        )
        for doc_id in ids:
            if doc_id in replacing:  # a `where` delete scans the collection: new ones skip it
                self._delete_chunks(doc_id)
        for access, target in self._chunks.items():
            rows = [
                (chunk, vector, doc)
                for doc, (_, chunks, vectors, _) in zip(docs, items, strict=True)
                if doc.access == access
                for chunk, vector in zip(chunks, vectors, strict=True)
            ]
            for start in range(0, len(rows), self._batch):
                batch = rows[start : start + self._batch]
                target.add(
                    ids=[c.chunk_id for c, _, _ in batch],
                    embeddings=[v.tolist() for _, v, _ in batch],
                    documents=[c.text for c, _, _ in batch],
                    metadatas=[_chunk_metadata(c, d) for c, _, d in batch],
                )
        before, self._written = self._written, self._written + len(items)
        if before < self._kill_mid_write <= self._written:  # fault injection for crash tests
            os.kill(os.getpid(), signal.SIGKILL)
        self._documents.update(ids=ids, metadatas=[{"status": _READY}] * len(ids))
        self._bump()

    def update_metadata(self, doc: Document) -> None:
        """Change a document's catalogue fields without re-embedding its chunks."""
        current = self.document(doc.doc_id)
        if current is None:
            return
        if current.access != doc.access:
            self._move_chunks(doc.doc_id, current.access, doc.access)
        self._documents.update(ids=[doc.doc_id], metadatas=[_document_metadata(doc, _READY)])
        for collection in self._chunks.values():
            got = collection.get(where={"doc_id": doc.doc_id}, include=["metadatas"])
            if not got["ids"]:
                continue
            updates = {
                "title": doc.title,
                "doc_type": doc.doc_type.value,
                "date": date_number(doc.date),
                "language": doc.language,
            }
            collection.update(
                ids=got["ids"], metadatas=[{**dict(m), **updates} for m in got["metadatas"] or []]
            )
        self._bump()

    def delete_document(self, doc_id: str) -> None:
        """Remove a document and all its chunks (a no-op when it is not there)."""
        if self._exists(doc_id):
            # Un-commit first: a crash between the steps leaves a pending record to clear.
            self._documents.update(ids=[doc_id], metadatas=[{"status": _PENDING}])
        self._delete_chunks(doc_id)
        self._documents.delete(ids=[doc_id])
        self._bump()

    def _exists(self, doc_id: str) -> bool:
        return bool(self._documents.get(ids=[doc_id], include=[])["ids"])

    def _delete_chunks(self, doc_id: str) -> None:
        for collection in self._chunks.values():
            collection.delete(where={"doc_id": doc_id})

    def _move_chunks(self, doc_id: str, old: Access, new: Access) -> None:
        got = self._chunks[old].get(
            where={"doc_id": doc_id}, include=["documents", "metadatas", "embeddings"]
        )
        if got["ids"]:
            self._chunks[new].upsert(
                ids=got["ids"],
                embeddings=got["embeddings"],
                documents=got["documents"],
                metadatas=got["metadatas"],
            )
        self._chunks[old].delete(where={"doc_id": doc_id})

    def _bump(self) -> None:
        # Read-modify-write is safe: one writer at a time holds the ingest lock.
        self._documents.modify(metadata={"generation": self.generation() + 1})


# Every public method, so no new one can forget it.
for _name, _method in list(vars(Store).items()):
    if not _name.startswith("_") and inspect.isfunction(_method):
        setattr(Store, _name, _translated(_method))
