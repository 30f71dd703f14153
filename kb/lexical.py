"""BM25 over all chunks (bm25s), derived from the store and kept in step with it.

The store is the source of truth; this index is a cache of it, rebuilt when the store's
generation changes and saved under the data directory so other processes load it instead
of rebuilding. Access levels and catalogue filters are applied as a weight mask inside
the BM25 scoring, so a filtered query still returns k passages when k exist.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer

from kb.store import Store, StoredChunk, date_number
from kb.text import index_text
from kb.types import Access, SearchFilters


def _tokenizer() -> Tokenizer:
    return Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))


class LexicalIndex:
    def __init__(self, generation: int, chunks: list[StoredChunk]) -> None:
        self.generation = generation
        self.chunks = chunks
        self._tokenizer = _tokenizer()
        self._bm25 = bm25s.BM25()
        texts = [index_text(c.title, c.chunk.section, c.chunk.text) for c in chunks]
        if texts:
            ids = self._tokenizer.tokenize(texts, return_as="ids", show_progress=False)
            self._bm25.index(ids, show_progress=False)
        self._access = np.array([c.access.value for c in chunks], dtype=object)
        self._doc_type = np.array([c.doc_type.value for c in chunks], dtype=object)
        self._date = np.array([c.date for c in chunks], dtype=np.int64)
        self._language = np.array([c.language for c in chunks], dtype=object)

    def __getstate__(self) -> dict[str, object]:
        # The stemmer is a C object that cannot be pickled: save without it, restore on load.
        state = self.__dict__.copy()
        tokenizer = state["_tokenizer"]
        state["_tokenizer"] = None
        state["_vocab"] = {
            k: v for k, v in vars(tokenizer).items() if k not in ("stemmer", "stemmer_fn")
        }
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        vocab = state.pop("_vocab")
        self.__dict__.update(state)
        self._tokenizer = _tokenizer()
        vars(self._tokenizer).update(vocab)

    def __len__(self) -> int:
        return len(self.chunks)

    def _mask(self, filters: SearchFilters, access: tuple[Access, ...]) -> np.ndarray:
        mask = np.isin(self._access, [a.value for a in access])
        if filters.doc_types:
            mask &= np.isin(self._doc_type, [t.value for t in filters.doc_types])
        if filters.languages:
            mask &= np.isin(self._language, list(filters.languages))
        if filters.date_from:
            mask &= self._date >= date_number(filters.date_from)
        if filters.date_to:
            mask &= (self._date <= date_number(filters.date_to)) & (self._date > 0)
        return mask

    def search(
        self, query: str, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> list[tuple[StoredChunk, float]]:
        """Top chunks by BM25 among those the caller may see and the filters keep."""
        if not self.chunks:
            return []
        mask = self._mask(filters, access)
        allowed = int(mask.sum())
        ids = self._tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False
        )
        if allowed == 0 or not ids or not any(ids[0]):
            return []
        docs, scores = self._bm25.retrieve(
            ids, k=min(k, allowed), weight_mask=mask.astype(np.float32), show_progress=False
        )
        return [
            (self.chunks[int(i)], float(s))
            for i, s in zip(docs[0], scores[0], strict=True)
            if s > 0 and mask[int(i)]
        ]

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write atomically: a reader sees the old index or the new one, never half of one."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        with (tmp / "index.pkl").open("wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @staticmethod
    def load(folder: Path) -> LexicalIndex | None:
        try:
            with (folder / "index.pkl").open("rb") as f:
                index = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None
        return index if isinstance(index, LexicalIndex) else None


def _folder(data_dir: Path, generation: int) -> Path:
    return data_dir / "lexical" / f"gen-{generation}"


def build(store: Store, data_dir: Path) -> LexicalIndex:
    """Build from the store's committed chunks and save it for other processes."""
    generation = store.generation()
    ready = {d.doc_id for d in store.documents()}
    chunks = [c for c in store.iter_chunks() if c.chunk.doc_id in ready]
    index = LexicalIndex(generation, chunks)
    index.save(_folder(data_dir, generation))
    for old in (data_dir / "lexical").glob("gen-*"):
        if old.name != f"gen-{generation}":
            shutil.rmtree(old, ignore_errors=True)
    return index


def load_or_build(store: Store, data_dir: Path) -> LexicalIndex:
    """The index for the store's current generation: loaded if saved, else built."""
    generation = store.generation()
    index = LexicalIndex.load(_folder(data_dir, generation))
    if index is not None and index.generation == generation:
        return index
    return build(store, data_dir)
