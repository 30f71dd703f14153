"""Immutable index segments: a few documents' passages, their vectors and their BM25 postings,
written once into a folder and then only read (memory-mapped, so every process on the machine
shares one copy in the page cache).

A folder holds:
- `meta.sqlite`: the passages (id, document, text, page, offsets, section, aliases) by row, the
  documents by number, and each term's slice of the postings.
- `doc.npy` (document number per row), `length.npy` (terms per row), `vectors.npy`,
  `post_rows.npy` and `post_tf.npy` (rows and term frequencies, grouped by term).

A large segment (20,000 passages or more by default) also holds `centroids.npy` and
`lists.npy`: its rows are written grouped by the nearest of about sqrt(n) k-means centroids,
so a query reads the vectors of the lists nearest to it (a tenth of the segment, contiguous)
instead of all of them (an inverted-file index, as in FAISS's IndexIVFFlat). The k-means and
the regrouping happen when the segment is written (a merge, in the background of a write),
never at query time.

Statistics (document frequencies, average length) are never stored: they are computed at query
time over the segments a reader sees, so a segment never needs rewriting when others change.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.types import Chunk

_ALIAS_SEPARATOR = "\x1f"
CLUSTERED_FROM = 20_000
_KMEANS_ROUNDS = 8
_KMEANS_SAMPLE_PER_LIST = 64

_SCHEMA = """
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc INTEGER NOT NULL, text TEXT NOT NULL,
    page INTEGER, page_label TEXT, start INTEGER NOT NULL, end INTEGER NOT NULL,
    section TEXT, aliases TEXT NOT NULL
);
CREATE INDEX chunks_by_id ON chunks (chunk_id);
CREATE INDEX chunks_by_doc ON chunks (doc);
CREATE TABLE docs (number INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE);
CREATE TABLE terms (term TEXT PRIMARY KEY, offset INTEGER NOT NULL, count INTEGER NOT NULL)
    WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Postings:
    """BM25 postings in COO form: term number, row and frequency, sorted by (term, row)."""

    terms: list[str]
    term: np.ndarray
    row: np.ndarray
    tf: np.ndarray

    @staticmethod
    def of(token_lists: Sequence[Sequence[str]]) -> Postings:
        vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        rows: list[int] = []
        tfs: list[int] = []
        for row, tokens in enumerate(token_lists):
            for token, count in Counter(tokens).items():
                term_ids.append(vocabulary.setdefault(token, len(vocabulary)))
                rows.append(row)
                tfs.append(count)
        return Postings(
            list(vocabulary),
            np.array(term_ids, dtype=np.int64),
            np.array(rows, dtype=np.int64),
            np.array(tfs, dtype=np.float32),
        )


def kmeans(vectors: np.ndarray, lists: int, seed: int = 0) -> np.ndarray:
    """Unit centroids of spherical k-means over a sample of unit vectors (deterministic)."""
    rng = np.random.default_rng(seed)
    sample_size = min(len(vectors), lists * _KMEANS_SAMPLE_PER_LIST)
    sample = np.asarray(vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))])
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(_KMEANS_ROUNDS):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0  # an empty list keeps its old centroid
        sums[~empty] /= norms[~empty]
        sums[empty] = centroids[empty]
        centroids = sums
    return centroids.astype(np.float32)


def nearest_list(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each vector's nearest centroid (in blocks: a million rows never make one big product)."""
    out = np.empty(len(vectors), dtype=np.int32)
    for start in range(0, len(vectors), 20_000):
        block = np.asarray(vectors[start : start + 20_000])
        out[start : start + len(block)] = np.argmax(block @ centroids.T, axis=1)
    return out


def _grouped(
    chunks: Sequence[Chunk], vectors: np.ndarray, lengths: np.ndarray, postings: Postings
) -> tuple[Sequence[Chunk], np.ndarray, np.ndarray, Postings, np.ndarray, np.ndarray]:
    """The rows regrouped by nearest centroid, with the centroids and each list's first row."""
    centroids = kmeans(vectors, max(1, round(len(chunks) ** 0.5)))
    lists = nearest_list(vectors, centroids)
    order = np.argsort(lists, kind="stable")
    new_row = np.empty(len(order), dtype=np.int64)
    new_row[order] = np.arange(len(order))
    regrouped = Postings(postings.terms, postings.term, new_row[postings.row], postings.tf)
    starts = np.searchsorted(lists[order], np.arange(len(centroids) + 1)).astype(np.int64)
    return (
        [chunks[int(i)] for i in order],
        np.asarray(vectors)[order],
        np.asarray(lengths)[order],
        regrouped,
        centroids,
        starts,
    )


def write(
    folder: Path,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    lengths: np.ndarray,
    postings: Postings,
    clustered_from: int = CLUSTERED_FROM,
) -> None:
    """Write a segment atomically: a folder appears whole or not at all; one of at least
    `clustered_from` rows grouped by k-means lists."""
    tmp = folder.with_name(f".tmp-{folder.name}")
    tmp.mkdir(parents=True)
    if len(chunks) >= clustered_from:
        chunks, vectors, lengths, postings, centroids, starts = _grouped(
            chunks, vectors, lengths, postings
        )
        np.save(tmp / "centroids.npy", centroids)
        np.save(tmp / "lists.npy", starts)
    doc_ids = list(dict.fromkeys(c.doc_id for c in chunks))
    number = {d: i for i, d in enumerate(doc_ids)}
    np.save(tmp / "doc.npy", np.array([number[c.doc_id] for c in chunks], dtype=np.int32))
    np.save(tmp / "length.npy", np.asarray(lengths, dtype=np.float32))
    np.save(tmp / "vectors.npy", np.asarray(vectors, dtype=np.float32))
    # Group by term (alphabetical, so the terms table and the postings share one order).
    order_of_term: np.ndarray = np.argsort(np.array(postings.terms, dtype=object))
    rank = np.empty(len(postings.terms), dtype=np.int64)
    rank[np.asarray(order_of_term, dtype=np.int64)] = np.arange(len(postings.terms))
    ranked = rank[postings.term] if len(postings.term) else postings.term
    order = np.lexsort((postings.row, ranked))
    np.save(tmp / "post_rows.npy", postings.row[order].astype(np.int32))
    np.save(tmp / "post_tf.npy", postings.tf[order].astype(np.float32))
    counts = np.bincount(ranked, minlength=len(postings.terms))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
    db = sqlite3.connect(tmp / "meta.sqlite")
    with db:
        db.executescript(_SCHEMA)
        db.executemany("INSERT INTO docs VALUES (?, ?)", list(enumerate(doc_ids)))
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    row,
                    c.chunk_id,
                    number[c.doc_id],
                    c.text,
                    c.page,
                    c.page_label,
                    c.start,
                    c.end,
                    c.section,
                    _ALIAS_SEPARATOR.join(c.aliases),
                )  # fmt: skip
                for row, c in enumerate(chunks)
            ),
        )
        db.executemany(
            "INSERT INTO terms VALUES (?, ?, ?)",
            (
                (postings.terms[int(t)], int(offsets[i]), int(counts[i]))
                for i, t in enumerate(order_of_term)
            ),
        )
    db.close()
    for name in os.listdir(tmp):
        with open(tmp / name, "rb") as f:
            os.fsync(f.fileno())
    tmp.rename(folder)


class Segment:
    """A written segment, opened read-only. Thread-safe: one SQLite connection behind a lock
    (lookups take microseconds); the arrays are memory-mapped and never change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = folder.name
        self.doc = np.load(folder / "doc.npy", mmap_mode="r")
        self.length = np.load(folder / "length.npy", mmap_mode="r")
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        self._post_rows = np.load(folder / "post_rows.npy", mmap_mode="r")
        self._post_tf = np.load(folder / "post_tf.npy", mmap_mode="r")
        clustered = (folder / "centroids.npy").exists()
        self.centroids = np.load(folder / "centroids.npy") if clustered else None
        self.lists = np.load(folder / "lists.npy") if clustered else None
        # immutable=1: the file never changes, so SQLite skips locking and change checks.
        uri = f"file:{folder / 'meta.sqlite'}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self.doc_ids: list[str] = [
                d for (d,) in self._db.execute("SELECT doc_id FROM docs ORDER BY number")
            ]

    @property
    def rows(self) -> int:
        return len(self.doc)

    def nearest_lists(self, vector: np.ndarray, share: float) -> list[tuple[int, int]]:
        """The row ranges of the lists whose centroids are nearest to a vector, about
        `share` of the segment's lists (a clustered segment only)."""
        assert self.centroids is not None and self.lists is not None
        count = max(1, min(len(self.centroids), round(share * len(self.centroids))))
        best = np.argpartition(-(self.centroids @ vector), count - 1)[:count]
        return [(int(self.lists[i]), int(self.lists[i + 1])) for i in np.sort(best)]

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows containing a term and the term's frequency in each (empty when absent)."""
        with self._lock:
            found = self._db.execute(
                "SELECT offset, count FROM terms WHERE term = ?", (term,)
            ).fetchone()
        if found is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, count = found
        return self._post_rows[start : start + count], self._post_tf[start : start + count]

    def all_postings(self) -> Iterable[tuple[str, np.ndarray, np.ndarray]]:
        """Every term with its rows and frequencies (for merging segments)."""
        with self._lock:
            terms = self._db.execute("SELECT term, offset, count FROM terms").fetchall()
        for term, start, count in terms:
            yield term, self._post_rows[start : start + count], self._post_tf[start : start + count]

    def chunks(self, rows: Iterable[int]) -> dict[int, Chunk]:
        """Passages by row."""
        wanted = sorted(set(int(r) for r in rows))
        found: dict[int, Chunk] = {}
        for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            with self._lock:
                records = self._db.execute(
                    f"SELECT * FROM chunks WHERE row IN ({marks})", part
                ).fetchall()
            found.update((r[0], self._chunk(r)) for r in records)
        return found

    def rows_of(self, chunk_id: str) -> list[int]:
        with self._lock:
            found = self._db.execute("SELECT row FROM chunks WHERE chunk_id = ?", (chunk_id,))
            return [r for (r,) in found]

    def document_rows(self, doc_id: str) -> list[int]:
        if doc_id not in self.doc_ids:
            return []
        with self._lock:
            return [
                r
                for (r,) in self._db.execute(
                    "SELECT row FROM chunks WHERE doc = ? ORDER BY row",
                    (self.doc_ids.index(doc_id),),
                )
            ]

    def _chunk(self, record: tuple[Any, ...]) -> Chunk:
        _, chunk_id, doc, text, page, label, start, end, section, aliases = record
        # Written by `write` from validated Chunks: no need to validate them again (25 us each,
        # and a search reads two hundred).
        return Chunk.model_construct(
            chunk_id=chunk_id,
            doc_id=self.doc_ids[doc],
            text=text,
            page=page,
            page_label=label,
            start=start,
            end=end,
            section=section,
            aliases=tuple(a for a in aliases.split(_ALIAS_SEPARATOR) if a),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
