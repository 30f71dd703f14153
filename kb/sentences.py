"""Sentence vectors kept on disk, so that composing an answer reads them instead of running
the model over fifty candidate sentences (about half a second on two cores).

An ingest embeds every quotable sentence of what it adds (`AnswerSettings.
sentence_vectors_at_ingest`); a sentence met at answer time without a vector (a library
ingested before, or with the setting off) is embedded then and kept. It is a cache: keyed by
the sentence's text and the model's name, shared by every process on the machine (SQLite in
WAL mode), and losing it loses speed, never answers. Vectors are kept as int8 with a scale
(388 bytes a sentence; cosine error about 0.001).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
_BATCH = 500  # SQLite's limit on parameters


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _pack(vector: np.ndarray) -> bytes:
    scale = float(np.abs(vector).max()) or 1.0
    quantised = np.round(vector / scale * 127).astype(np.int8)
    return np.float32(scale / 127).tobytes() + quantised.tobytes()


def _unpack(blob: bytes) -> np.ndarray:
    scale = np.frombuffer(blob[:4], dtype=np.float32)[0]
    vector: np.ndarray = np.frombuffer(blob[4:], dtype=np.int8).astype(np.float32) * scale
    return vector


class SentenceVectors:
    """Vectors of sentences by text, for one embedding model."""

    def __init__(self, folder: Path, model: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-." else "-" for c in model)
        self._db = sqlite3.connect(
            folder / f"sentences-{name}.sqlite",
            check_same_thread=False,
            timeout=5,
            isolation_level=None,
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost tail costs nothing
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors kept for these texts (those missing are simply absent)."""
        by_key = {_key(t): t for t in texts}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), _BATCH):
            part = keys[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part
                ).fetchall()
            found.update((by_key[k], _unpack(v)) for k, v in rows)
        return found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep vectors; a busy database (another process writing) skips them: they are
        computed again when next needed."""
        rows = [(_key(t), _pack(v)) for t, v in zip(texts, vectors, strict=True)]
        try:
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
        except sqlite3.OperationalError:
            with self._lock:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    def count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()
