"""The search index: segments on disk plus a small manifest, shared by every process on the
machine and grown one document at a time.

The store (Chroma) is the source of truth; the index is derived from it and kept in step by
the writers (a document added, re-classified or removed changes one small segment or one row
of the manifest, never the whole index). A reader notices a change by the manifest's version
number (one SQLite read per request) and then only opens the new segments.

- `manifest.sqlite` (WAL): the live segments, and every indexed document with the segment
  holding its passages and the catalogue fields filters need (access, type, date, language),
  so re-classifying a document rewrites nothing. Rows of a document removed or replaced stay
  in their old segment as dead rows until a merge drops them.
- Segments (kb/segments.py) of about the same size are merged once there are `_FANOUT` of
  them (tiers, as in Lucene), so a merge costs about the size of what changed recently, not
  of the library, and a passage is rewritten a logarithmic number of times over its life.

BM25 statistics (document frequencies, average length) are computed per query over what the
caller may see, across segments: an anonymous ranking never depends on members-only text.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb import segments
from kb.segments import Postings, Segment
from kb.text import STOP_WORDS, index_text, terms
from kb.types import Access, Chunk, DocType, Document, IndexedChunk, SearchFilters

# Bumped when the layout changes: an index of another format is rebuilt from the store.
FORMAT = 1
_FANOUT = 4
_KEEP_RETIRED_SECONDS = 120.0  # a reader may still be reading a merged-away segment
_ACCESS = {a: i for i, a in enumerate(Access)}
_TYPES = {t: i for i, t in enumerate(DocType)}
_DEAD = -1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    name TEXT PRIMARY KEY, rows INTEGER NOT NULL, retired REAL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, segment TEXT NOT NULL, access TEXT NOT NULL,
    doc_type TEXT NOT NULL, date INTEGER NOT NULL, language TEXT NOT NULL, title TEXT NOT NULL,
    signature TEXT NOT NULL, record TEXT NOT NULL DEFAULT '', changed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_by_change ON documents (changed);
"""
# Added to the manifest after format 1 shipped: an older manifest gains them empty, and the
# next reconciliation fills them from the store (no passage is indexed again).
_LATER_COLUMNS = {
    "record": "TEXT NOT NULL DEFAULT ''",
    "changed": "INTEGER NOT NULL DEFAULT 0",
}


def _day(value: dt.date | None) -> int:
    return value.toordinal() if value else 0


def signature(doc: Document) -> str:
    """What says a document's passages changed (its file, and how many passages it has)."""
    return f"{doc.file_hash}:{doc.chunks}"


def tokens(doc: Document, chunk: Chunk) -> list[str]:
    """The words BM25 indexes for a passage: its document's title, section, text, acronyms."""
    return terms(index_text(doc.title, chunk.section, chunk.text, chunk.aliases))


@dataclass(frozen=True)
class _Doc:
    doc_id: str
    segment: str
    access: Access
    doc_type: DocType
    date: int
    language: str
    title: str


class View:
    """The index as of one manifest version: what a query reads. Rows are numbered across the
    segments in order (a global row space), so scores are one array per query."""

    def __init__(
        self,
        version: int,
        segs: list[Segment],
        docs: list[_Doc],
        bm25: tuple[float, float],
        probe_share: float = 0.1,
    ) -> None:
        self.version = version
        self.bm25_params = bm25
        self.probe_share = probe_share
        self._segments = segs
        self._docs = docs
        self._offsets = np.cumsum([0, *(s.rows for s in segs)])
        number = {d.doc_id: i for i, d in enumerate(docs)}
        # Per segment: its document numbers -> ours, or the dead slot (len(docs)) when the
        # document lives elsewhere now (replaced) or is gone.
        dead = len(docs)
        parts = []
        for seg in segs:
            mapping = np.array(
                [
                    number[d] if d in number and docs[number[d]].segment == seg.name else dead
                    for d in seg.doc_ids
                ]
                + [dead],
                dtype=np.int32,
            )
            parts.append(mapping[np.asarray(seg.doc)])
        self._row_doc = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        self._length = (
            np.concatenate([np.asarray(s.length) for s in segs])
            if segs
            else np.zeros(0, dtype=np.float32)
        )
        # Document attributes, with one extra slot that no filter or access level keeps.
        self._doc_access = np.array([_ACCESS[d.access] for d in docs] + [_DEAD], dtype=np.int8)
        self._doc_type = np.array([_TYPES[d.doc_type] for d in docs] + [_DEAD], dtype=np.int8)
        self._doc_date = np.array([d.date for d in docs] + [0], dtype=np.int64)
        self._doc_language = np.array([d.language for d in docs] + [""], dtype=object)
        self._visible: dict[tuple[Access, ...], tuple[np.ndarray, int, float]] = {}
        self._rows_by_id: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Rows, dead ones included."""
        return len(self._row_doc)

    @property
    def live(self) -> int:
        return int(np.count_nonzero(self._row_doc < len(self._docs)))

    # -- masks -----------------------------------------------------------------------------

    def _visible_rows(self, access: tuple[Access, ...]) -> tuple[np.ndarray, int, float]:
        """Rows the caller may see, how many, and their average length (cached per view)."""
        key = tuple(sorted(access))
        with self._lock:
            cached = self._visible.get(key)
        if cached is None:
            doc_mask = np.isin(self._doc_access, [_ACCESS[a] for a in key])
            rows = doc_mask[self._row_doc]
            count = int(rows.sum())
            average = float(self._length[rows].mean()) if count else 0.0
            cached = (rows, count, average)
            with self._lock:
                self._visible[key] = cached
        return cached

    def mask(self, filters: SearchFilters, access: tuple[Access, ...]) -> np.ndarray:
        """The rows the caller may see and the filters keep (the same rule as the store's
        `filter_clause`; tests/test_index.py holds them equal)."""
        rows = self._visible_rows(access)[0]
        if filters.empty:
            return rows
        docs = np.ones(len(self._doc_access), dtype=bool)
        if filters.doc_types:
            docs &= np.isin(self._doc_type, [_TYPES[t] for t in filters.doc_types])
        if filters.languages:
            docs &= np.isin(self._doc_language, list(filters.languages))
        if filters.date_from:
            docs &= self._doc_date >= _day(filters.date_from)
        if filters.date_to:
            docs &= (self._doc_date <= _day(filters.date_to)) & (self._doc_date > 0)
        return rows & docs[self._row_doc]

    # -- passages --------------------------------------------------------------------------

    def passages(self, rows: Iterable[int]) -> dict[int, IndexedChunk]:
        """Passages with their document's fields, by global row."""
        by_segment: dict[int, list[int]] = {}
        for row in rows:
            index = int(np.searchsorted(self._offsets, row, side="right")) - 1
            by_segment.setdefault(index, []).append(int(row) - int(self._offsets[index]))
        found: dict[int, IndexedChunk] = {}
        for index, local in by_segment.items():
            offset = int(self._offsets[index])
            for row, chunk in self._segments[index].chunks(local).items():
                doc = self._docs[int(self._row_doc[offset + row])]
                found[offset + row] = IndexedChunk(
                    chunk=chunk,
                    access=doc.access,
                    doc_type=doc.doc_type,
                    date=dt.date.fromordinal(doc.date) if doc.date else None,
                    language=doc.language,
                    title=doc.title,
                )
        with self._lock:
            self._rows_by_id.update((c.chunk.chunk_id, r) for r, c in found.items())
        return found

    def _row(self, chunk_id: str) -> int | None:
        with self._lock:
            row = self._rows_by_id.get(chunk_id)
        if row is not None:
            return row
        dead = len(self._docs)
        for index, seg in enumerate(self._segments):
            for local in seg.rows_of(chunk_id):
                row = int(self._offsets[index]) + local
                if self._row_doc[row] != dead:
                    with self._lock:
                        self._rows_by_id[chunk_id] = row
                    return row
        return None

    def chunk(self, chunk_id: str) -> IndexedChunk | None:
        row = self._row(chunk_id)
        return None if row is None else self.passages([row])[row]

    def document_chunks(self, doc_id: str) -> list[IndexedChunk]:
        """A document's passages in page and offset order."""
        for index, seg in enumerate(self._segments):
            offset = int(self._offsets[index])
            rows = [offset + r for r in seg.document_rows(doc_id)]
            live = [r for r in rows if self._row_doc[r] != len(self._docs)]
            if live:
                found = self.passages(live).values()
                return sorted(found, key=lambda c: (c.chunk.page or 0, c.chunk.start))
        return []

    # -- BM25 ------------------------------------------------------------------------------

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        rows, tfs = [], []
        for index, seg in enumerate(self._segments):
            r, t = seg.postings(term)
            if len(r):
                rows.append(np.asarray(r, dtype=np.int64) + int(self._offsets[index]))
                tfs.append(np.asarray(t))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(rows), np.concatenate(tfs)

    def bm25(self, query: str, access: tuple[Access, ...]) -> np.ndarray:
        """The BM25 score of every row for a query (Lucene's formula, as bm25s computes it),
        with document frequencies and average length over what the caller may see; zero for
        rows they may not see."""
        scores = np.zeros(self.size, dtype=np.float32)
        visible, count, average = self._visible_rows(access)
        if count == 0:
            return scores
        k1, b = self.bm25_params
        cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term in terms(query):  # a repeated word counts again, as in bm25s
            if term not in cache:
                rows, tf = self._postings(term)
                keep = visible[rows]
                cache[term] = (rows[keep], tf[keep])
            rows, tf = cache[term]
            if not len(rows):
                continue
            frequency = len(rows)
            idf = math.log(1 + (count - frequency + 0.5) / (frequency + 0.5))
            norm = k1 * ((1 - b) + b * self._length[rows] / average)
            scores[rows] += (idf * tf / (norm + tf)).astype(np.float32)
        return scores

    def rarity(self, word: str, access: tuple[Access, ...]) -> float:
        """Inverse document frequency of a word among the passages the caller may see: the
        rarest of its pieces ("COVID-19" is "covid" and "19"); an unknown one is as rare as
        can be."""
        _, count, _ = self._visible_rows(access)
        frequencies = self._piece_frequencies(word, access)
        return max((math.log((count + 1) / (f + 1)) for f in frequencies), default=0.0)

    def unknown(self, word: str, access: tuple[Access, ...]) -> bool:
        """Whether some piece of the word stands in none of the passages the caller may see."""
        return 0 in self._piece_frequencies(word, access)

    def _piece_frequencies(self, word: str, access: tuple[Access, ...]) -> list[int]:
        """How many visible passages hold each piece of the word (stop words left out)."""
        visible, _, _ = self._visible_rows(access)
        frequencies = []
        for piece in re.findall(r"\w\w+", word.lower()):
            if piece in STOP_WORDS:
                continue
            stems = terms(piece)
            frequency = 0
            if stems:
                rows, _ = self._postings(stems[0])
                frequency = int(visible[rows].sum())
            frequencies.append(frequency)
        return frequencies

    def lexical_rows(
        self, scores: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the top passages by BM25 (`scores`, from `bm25`) among those the caller
        may see and the filters keep, best first, with their scores; passages without any
        query word are not hits."""
        if not self.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        masked = np.where(self.mask(filters, access), scores, 0.0)
        k = min(k, int(np.count_nonzero(masked > 0)))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-masked, k - 1)[:k]
        top = top[np.argsort(-masked[top], kind="stable")]
        return top, masked[top]

    def search(
        self, scores: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> list[tuple[IndexedChunk, float]]:
        """`lexical_rows` as passages."""
        rows, values = self.lexical_rows(scores, k, filters, access)
        found = self.passages(rows)
        return [(found[int(r)], float(v)) for r, v in zip(rows, values, strict=True)]

    # -- vectors ---------------------------------------------------------------------------

    def similarities(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of the passages at these rows to a query vector."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        which = np.searchsorted(self._offsets, rows, side="right") - 1
        for index in np.unique(which):
            here = which == index
            local = rows[here] - int(self._offsets[index])
            out[here] = np.asarray(self._segments[int(index)].vectors[local]) @ vector
        return out

    def dense_rows(
        self, vector: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the exact nearest passages among those the caller may see and the filters
        keep, nearest first, with their similarities."""
        mask = self.mask(filters, access) if self.size else np.zeros(0, dtype=bool)
        best_rows: list[np.ndarray] = []
        best_scores: list[np.ndarray] = []
        for index, seg in enumerate(self._segments):
            start, end = int(self._offsets[index]), int(self._offsets[index + 1])
            keep, sims = _nearest_kept(seg, mask[start:end], vector, self.probe_share)
            if not len(keep):
                continue
            n = min(k, len(keep))
            top = np.argpartition(-sims, n - 1)[:n]
            best_rows.append(keep[top] + start)
            best_scores.append(sims[top])
        if not best_rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows, sims = np.concatenate(best_rows), np.concatenate(best_scores)
        order = np.argsort(-sims, kind="stable")[:k]
        return rows[order], sims[order]

    def dense_search(
        self, vector: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> list[tuple[IndexedChunk, float]]:
        """`dense_rows` as passages."""
        rows, sims = self.dense_rows(vector, k, filters, access)
        found = self.passages(rows)
        return [(found[int(r)], float(v)) for r, v in zip(rows, sims, strict=True)]

    def doc_id(self, row: int) -> str:
        """The document of the passage at a live row (without reading the passage)."""
        return self._docs[int(self._row_doc[row])].doc_id


def _nearest_kept(
    seg: Segment, kept: np.ndarray, vector: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """A segment's rows that the mask keeps and might be nearest, with their similarities:
    in a clustered segment, those of the nearest lists (more lists when the mask keeps few
    rows, and every kept row when it keeps too few for lists to pay); otherwise all."""
    fraction = float(kept.mean()) if len(kept) else 0.0
    wanted = share / fraction if fraction else 1.0
    # Reading most lists whole still beats gathering scattered kept rows (measured at 100k:
    # a filter keeping 18% of the passages, 11 ms against 18 ms).
    if seg.centroids is not None and wanted < 0.7:
        ranges = seg.nearest_lists(vector, wanted)
        found = np.concatenate([np.arange(a, b) for a, b in ranges])
        scores = np.concatenate([np.asarray(seg.vectors[a:b]) @ vector for a, b in ranges])
        return found[kept[found]], scores[kept[found]]
    keep = np.flatnonzero(kept)
    if len(keep) > len(kept) // 2:  # most rows: one product, then pick
        return keep, (np.asarray(seg.vectors) @ vector)[keep]
    return keep, np.asarray(seg.vectors[keep]) @ vector


def merge_plan(view: View) -> list[Segment]:
    """The segments to merge next: every mostly-dead one, or the smallest full tier."""
    dead = len(view._docs)
    live_rows = [
        int(np.count_nonzero(view._row_doc[view._offsets[i] : view._offsets[i + 1]] != dead))
        for i in range(len(view._segments))
    ]
    mostly_dead = [
        s for s, live in zip(view._segments, live_rows, strict=True) if live < s.rows / 2
    ]
    if mostly_dead:
        return mostly_dead
    tiers: dict[int, list[Segment]] = {}
    for seg, live in zip(view._segments, live_rows, strict=True):
        tiers.setdefault(int(math.log(max(live, 1), _FANOUT)), []).append(seg)
    full = [segs for _, segs in sorted(tiers.items()) if len(segs) >= _FANOUT]
    return full[0] if full else []


class Index:
    """The index folder: readers ask for `view()`; writers add, update and remove documents."""

    def __init__(
        self,
        folder: Path,
        bm25: tuple[float, float] = (0.9, 0.4),
        probe_share: float = 0.1,
        clustered_from: int = segments.CLUSTERED_FROM,
    ) -> None:
        self.folder = folder
        self.bm25 = bm25
        self.probe_share = probe_share
        self.clustered_from = clustered_from
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / "manifest.sqlite", check_same_thread=False,
                                   timeout=30, isolation_level=None)  # fmt: skip
        self._db.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.Lock()
        self._upgrade()
        self._db.executescript(_SCHEMA)
        self._open: dict[str, Segment] = {}
        self._view: View | None = None
        if self._state("format", "") == "":  # a new index
            self._write(
                lambda db: db.execute("INSERT INTO state VALUES ('format', ?)", (str(FORMAT),))
            )
        if self._state("format", "") != str(FORMAT):
            self.reset()

    def _upgrade(self) -> None:
        """Give a manifest written before the document records their columns (empty: the
        store generation is forgotten, so the next reader reconciles and fills them). In
        one write transaction, checked inside it: workers starting together upgrade once."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                found = self._db.execute("PRAGMA table_info(documents)").fetchall()
                columns = {row[1] for row in found}
                for name, kind in _LATER_COLUMNS.items():
                    if columns and name not in columns:
                        self._db.execute(f"ALTER TABLE documents ADD COLUMN {name} {kind}")
                        self._db.execute(
                            "INSERT OR REPLACE INTO state VALUES ('store_generation', '-1')"
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- manifest --------------------------------------------------------------------------

    def _state(self, key: str, default: str) -> str:
        with self._lock:
            found = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return str(found[0]) if found else default

    def version(self) -> int:
        """A number that changes with every change to the index (cheap to poll)."""
        return int(self._state("version", "0"))

    def store_generation(self) -> int:
        """The store generation the index was last reconciled with or written after."""
        return int(self._state("store_generation", "-1"))

    def _write(self, change: Callable[[sqlite3.Connection], object]) -> None:
        """One transaction that also bumps the version (readers reload on it)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO state VALUES ('version', '1') ON CONFLICT(key) DO UPDATE "
                    "SET value = CAST(value AS INTEGER) + 1"
                )
                change(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def reset(self) -> None:
        """Forget every document (their segments are deleted once no reader needs them)."""

        def change(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM documents")
            db.execute("UPDATE segments SET retired = ? WHERE retired IS NULL", (time.time(),))
            db.execute("INSERT OR REPLACE INTO state VALUES ('format', ?)", (str(FORMAT),))
            db.execute("INSERT OR REPLACE INTO state VALUES ('store_generation', '-1')")

        self._write(change)

    def documents(self) -> dict[str, tuple[object, ...]]:
        """Indexed documents: id -> (id, segment, access, type, date, language, title,
        signature), comparable with `fields(doc, segment)` and `signature(doc)`."""
        with self._lock:
            found = self._db.execute(
                "SELECT doc_id, segment, access, doc_type, date, language, title, signature "
                "FROM documents"
            ).fetchall()
        return {str(row[0]): tuple(row) for row in found}

    def records(self, since: int = 0) -> tuple[list[Document], int]:
        """The catalogue records of documents written after change `since` (all with 0),
        and how many documents the index holds. Every process keeps its document list by
        this (work in proportion to what changed, and no read of the store)."""
        with self._lock:
            found = self._db.execute(
                "SELECT record FROM documents WHERE changed > ? AND record != ''", (since,)
            ).fetchall()
            (count,) = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()
        return [Document.model_validate_json(r) for (r,) in found], int(count)

    def document_ids(self) -> set[str]:
        with self._lock:
            return {d for (d,) in self._db.execute("SELECT doc_id FROM documents")}

    def record_of(self) -> dict[str, str]:
        """Each document's stored record ('' for one indexed before records were kept)."""
        with self._lock:
            return dict(self._db.execute("SELECT doc_id, record FROM documents").fetchall())

    # -- reading ---------------------------------------------------------------------------

    def view(self) -> View:
        """The current view (rebuilt, opening only the new segments, when the version moved)."""
        version = self.version()
        current = self._view
        if current is not None and current.version == version:
            return current
        with self._lock:
            names = [n for (n,) in self._db.execute(
                "SELECT name FROM segments WHERE retired IS NULL ORDER BY name")]  # fmt: skip
            records = self._db.execute(
                "SELECT doc_id, segment, access, doc_type, date, language, title FROM documents"
            ).fetchall()
            version = int(self._state_unlocked("version", "0"))
        docs = [
            _Doc(d, s, Access(a), DocType(t), int(date), lang, title)
            for d, s, a, t, date, lang, title in records
        ]
        for name in names:
            if name not in self._open:
                self._open[name] = Segment(self.folder / name)
        for name in set(self._open) - set(names):
            self._open.pop(name)  # closed when the last view using it goes
        view = View(version, [self._open[n] for n in names], docs, self.bm25, self.probe_share)
        self._view = view
        return view

    def _state_unlocked(self, key: str, default: str) -> str:
        found = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return str(found[0]) if found else default

    # -- writing (callers hold the library's write lock) -----------------------------------

    def add(
        self,
        docs: Sequence[Document],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        store_generation: int | None = None,
    ) -> None:
        """Index documents' passages (replacing what was indexed for them) as one new segment."""
        by_id = {d.doc_id: d for d in docs}
        name = f"seg-{time.time_ns():020d}-{os.getpid()}"
        if chunks:
            token_lists = [tokens(by_id[c.doc_id], c) for c in chunks]
            lengths = np.array([len(t) for t in token_lists], dtype=np.float32)
            segments.write(
                self.folder / name, chunks, vectors, lengths, Postings.of(token_lists),
                self.clustered_from,
            )  # fmt: skip

        def change(db: sqlite3.Connection) -> None:
            if chunks:
                db.execute("INSERT INTO segments VALUES (?, ?, NULL)", (name, len(chunks)))
            version = _changed(db)
            db.executemany(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*fields(d, name), signature(d), d.model_dump_json(), version) for d in docs],
            )
            if store_generation is not None:
                _set_generation(db, store_generation)

        self._write(change)
        self._merge_if_needed()

    def update(self, docs: Sequence[Document], store_generation: int | None = None) -> None:
        """Change documents' catalogue fields (access, type, date, language, title...)."""

        def change(db: sqlite3.Connection) -> None:
            version = _changed(db)
            db.executemany(
                "UPDATE documents SET access = ?, doc_type = ?, date = ?, language = ?, "
                "title = ?, record = ?, changed = ? WHERE doc_id = ?",
                [(*fields(d, "")[2:], d.model_dump_json(), version, d.doc_id) for d in docs],
            )
            if store_generation is not None:
                _set_generation(db, store_generation)

        self._write(change)

    def remove(self, doc_ids: Sequence[str], store_generation: int | None = None) -> None:
        def change(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM documents WHERE doc_id = ?", [(d,) for d in doc_ids])
            if store_generation is not None:
                _set_generation(db, store_generation)

        self._write(change)
        self._merge_if_needed()

    def mark_reconciled(self, store_generation: int) -> None:
        self._write(lambda db: _set_generation(db, store_generation))

    def embedder(self) -> str:
        """The embedder the indexed vectors came from ('' when none is recorded)."""
        return self._state("embedder", "")

    def record_embedder(self, name: str) -> None:
        if self.embedder() != name:
            self._write(lambda db: db.execute(
                "INSERT OR REPLACE INTO state VALUES ('embedder', ?)", (name,)))  # fmt: skip

    # -- merging ---------------------------------------------------------------------------

    def _merge_if_needed(self) -> None:
        """Merge segments of about the same size once there are `_FANOUT` of them (a tier:
        sizes within a factor of `_FANOUT`), and any segment that is mostly dead rows; then
        delete segments retired long enough ago. Each passage is so rewritten about
        log_FANOUT(library / document) times over its life, and a library of n passages has
        at most (_FANOUT - 1) segments per tier."""
        for _ in range(8):  # a merge can fill the next tier up
            chosen = merge_plan(self.view())
            if not chosen:
                break
            self._merge(self.view(), chosen)
        self._collect()

    def _merge(self, view: View, chosen: list[Segment]) -> None:
        dead = len(view._docs)
        kept_chunks: list[Chunk] = []
        vectors: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        vocabulary: dict[str, int] = {}
        coo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        moved: set[str] = set()
        for seg in chosen:
            index = view._segments.index(seg)
            offset = int(view._offsets[index])
            live = np.flatnonzero(view._row_doc[offset : offset + seg.rows] != dead)
            new_row = np.full(seg.rows, -1, dtype=np.int64)
            new_row[live] = np.arange(len(live)) + len(kept_chunks)
            found = seg.chunks(live.tolist())
            kept_chunks += [found[int(r)] for r in live]
            moved |= {found[int(r)].doc_id for r in live}
            vectors.append(np.asarray(seg.vectors[live]))
            lengths.append(np.asarray(seg.length[live]))
            for term, rows, tf in seg.all_postings():
                mapped = new_row[np.asarray(rows)]
                keep = mapped >= 0
                if keep.any():
                    number = vocabulary.setdefault(term, len(vocabulary))
                    found_tf = np.asarray(tf)[keep]
                    coo.append((np.full(len(found_tf), number), mapped[keep], found_tf))
        name = f"seg-{time.time_ns():020d}-{os.getpid()}"
        if kept_chunks:
            postings = Postings(
                list(vocabulary),
                np.concatenate([c[0] for c in coo]),
                np.concatenate([c[1] for c in coo]),
                np.concatenate([c[2] for c in coo]).astype(np.float32),
            )
            segments.write(
                self.folder / name, kept_chunks, np.concatenate(vectors),
                np.concatenate(lengths), postings, self.clustered_from,
            )  # fmt: skip
        names = [s.name for s in chosen]
        marks = ",".join("?" * len(names))

        def change(db: sqlite3.Connection) -> None:
            if kept_chunks:
                db.execute("INSERT INTO segments VALUES (?, ?, NULL)", (name, len(kept_chunks)))
                # Only documents still living in a merged segment move (one re-added meanwhile
                # lives in its newer segment already).
                db.executemany(
                    f"UPDATE documents SET segment = ? WHERE doc_id = ? AND segment IN ({marks})",
                    [(name, d, *names) for d in moved],
                )
            db.execute(
                f"UPDATE segments SET retired = ? WHERE name IN ({marks})", (time.time(), *names)
            )

        self._write(change)

    def _collect(self) -> None:
        """Delete segments retired long ago, and leftovers of writes that never committed."""
        with self._lock:
            known = {n: r for n, r in self._db.execute("SELECT name, retired FROM segments")}
        now = time.time()
        expired = [n for n, r in known.items() if r is not None and now - r > _KEEP_RETIRED_SECONDS]
        for name in expired:
            shutil.rmtree(self.folder / name, ignore_errors=True)
        if expired:
            with self._lock:
                self._db.executemany("DELETE FROM segments WHERE name = ?", [(n,) for n in expired])
        for path in self.folder.iterdir():
            stale = now - path.stat().st_mtime > _KEEP_RETIRED_SECONDS
            orphan = path.name.startswith("seg-") and path.name not in known
            if path.is_dir() and stale and (orphan or path.name.startswith(".tmp-")):
                shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def fields(doc: Document, segment: str) -> tuple[str, str, str, str, int, str, str]:
    """A document's row in the manifest (without its signature)."""
    return (
        doc.doc_id,
        segment,
        doc.access.value,
        doc.doc_type.value,
        _day(doc.date),
        doc.language,
        doc.title,
    )


def _changed(db: sqlite3.Connection) -> int:
    """The version the running write gives the index (rows it writes are stamped with it)."""
    (value,) = db.execute("SELECT value FROM state WHERE key = 'version'").fetchone()
    return int(value)


def _set_generation(db: sqlite3.Connection, generation: int) -> None:
    db.execute("INSERT OR REPLACE INTO state VALUES ('store_generation', ?)", (str(generation),))
