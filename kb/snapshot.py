"""An in-memory snapshot of the store's chunks: BM25 over their text (bm25s), their vectors,
and their access level and catalogue fields as arrays.

The store is the source of truth; the snapshot is derived from it, rebuilt when the store's
generation changes and saved under the data directory so other processes load it instead of
rebuilding. Access levels and catalogue filters become one boolean mask, applied inside BM25
scoring and inside exact vector search, so a filtered query still returns k passages when k
exist. Exact search over the masked vectors is how filtered dense queries run: at 100k
chunks it takes ~5 ms, where Chroma's HNSW with a `where` filter takes 73-227 ms
(bench/store.py); unfiltered queries use Chroma's HNSW (~1.4 ms).
"""

from __future__ import annotations

import datetime as dt
import math
import pickle
import re
import shutil
import tempfile
from pathlib import Path

import bm25s
import numpy as np
from bm25s.tokenization import Tokenizer

from kb.store import Store
from kb.text import STOP_WORDS, WORD_PATTERN, index_text, stem, terms
from kb.types import MEMBERS, Access, IndexedChunk, SearchFilters


def _tokenizer() -> Tokenizer:
    """bm25s's tokenizer with our normaliser's word pattern, stop words and stemmer, so BM25
    and the evidence gate (kb.text.terms) see the same words."""
    return Tokenizer(splitter=WORD_PATTERN, stopwords=sorted(STOP_WORDS), stemmer=stem)


def _day(value: dt.date | None) -> int:
    """A date as a day number for the masks (0: undated)."""
    return value.toordinal() if value else 0


class Snapshot:
    def __init__(
        self,
        generation: int,
        chunks: list[IndexedChunk],
        vectors: np.ndarray,
        bm25: tuple[float, float] = (0.9, 0.4),
    ) -> None:
        self.generation = generation
        self.bm25_params = bm25
        self.chunks = chunks
        self.vectors = vectors
        self._row = {c.chunk.chunk_id: i for i, c in enumerate(chunks)}
        self._tokenizer = _tokenizer()
        texts = [
            index_text(c.title, c.chunk.section, c.chunk.text, c.chunk.aliases) for c in chunks
        ]
        ids = self._tokenizer.tokenize(texts, return_as="ids", show_progress=False) if texts else []
        self._access = np.array([c.access.value for c in chunks], dtype=object)
        # One BM25 index per reader scope: what an anonymous ranking depends on (document
        # frequencies, average length) comes only from what anonymous readers may see, so a
        # members-only upload does not shift public scores (a side channel otherwise).
        self._bm25 = bm25s.BM25(k1=bm25[0], b=bm25[1])  # every chunk (members and staff)
        if ids:
            self._bm25.index(ids, show_progress=False)
        public = np.flatnonzero(self._access == Access.public.value)
        self._public: tuple[bm25s.BM25, np.ndarray] | None = None
        if 0 < len(public) < len(chunks):
            index = bm25s.BM25(k1=bm25[0], b=bm25[1])
            # The whole vocabulary, so a query's token ids mean the same in both indexes.
            size = 1 + max((max(doc, default=0) for doc in ids), default=0)
            index.index(
                ([ids[i] for i in public], {i: i for i in range(size)}), show_progress=False
            )
            self._public = (index, public)
        self._doc_type = np.array([c.doc_type.value for c in chunks], dtype=object)
        self._date = np.array([_day(c.date) for c in chunks], dtype=np.int64)
        self._language = np.array([c.language for c in chunks], dtype=object)

    def __getstate__(self) -> dict[str, object]:
        # The stemmer is a C object that cannot be pickled: save without it, restore on load.
        state = self.__dict__.copy()
        tokenizer = state["_tokenizer"]
        state["_tokenizer"] = None
        state["_vocab"] = {
            k: v
            for k, v in vars(tokenizer).items()
            if k not in ("stemmer", "stemmer_fn", "splitter")
        }
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        vocab = state.pop("_vocab")
        self.__dict__.update(state)
        self._tokenizer = _tokenizer()
        vars(self._tokenizer).update(vocab)

    def mask(self, filters: SearchFilters, access: tuple[Access, ...]) -> np.ndarray:
        """The chunks the caller may see and the filters keep (the same rule as the store's
        `filter_clause`; tests/test_snapshot.py holds them equal)."""
        mask = np.isin(self._access, [a.value for a in access])
        if filters.doc_types:
            mask &= np.isin(self._doc_type, [t.value for t in filters.doc_types])
        if filters.languages:
            mask &= np.isin(self._language, list(filters.languages))
        if filters.date_from:
            mask &= self._date >= _day(filters.date_from)
        if filters.date_to:
            mask &= (self._date <= _day(filters.date_to)) & (self._date > 0)
        return mask

    def chunk(self, chunk_id: str) -> IndexedChunk | None:
        row = self._row.get(chunk_id)
        return None if row is None else self.chunks[row]

    def document_chunks(self, doc_id: str) -> list[IndexedChunk]:
        """A document's chunks in page and offset order."""
        found = [c for c in self.chunks if c.chunk.doc_id == doc_id]
        return sorted(found, key=lambda c: (c.chunk.page or 0, c.chunk.start))

    def similarity(self, chunk_id: str, vector: np.ndarray) -> float | None:
        row = self._row.get(chunk_id)
        return None if row is None else float(self.vectors[row] @ vector)

    def rarity(self, word: str, access: tuple[Access, ...]) -> float:
        """Inverse document frequency of a word among the chunks the caller may see (their
        own share of the library: a members-only text does not change an anonymous answer)."""
        mask = self.mask(SearchFilters(), access)
        visible = int(mask.sum())
        rarest = 0.0
        # Each piece on its own ("COVID-19" is "covid" and "19"): the rarest one counts, and
        # one the index has never seen (no id) is as rare as can be.
        for piece in re.findall(r"\w\w+", word.lower()):
            if piece in STOP_WORDS:
                continue
            ids = self._token_ids(piece)
            token = ids[0] if ids else None
            frequency = 0
            if token is not None:  # None: a word the index has never seen
                indptr = self._bm25.scores["indptr"]
                rows = self._bm25.scores["indices"][indptr[token] : indptr[token + 1]]
                frequency = int(mask[rows].sum())
            rarest = max(rarest, math.log((visible + 1) / (frequency + 1)))
        return rarest

    def bm25(self, query: str, access: tuple[Access, ...] = MEMBERS) -> np.ndarray:
        """The BM25 score of every chunk for a query, with the statistics of what the caller
        may see (zeros for the rest, and when no query word is indexed). Scored once per
        query: the top passages and the fused candidates both read it."""
        scores = np.zeros(len(self.chunks), dtype=np.float32)
        ids = self._token_ids(query)
        if not self.chunks or not ids:
            return scores
        if Access.members in access or self._public is None:
            full: np.ndarray = self._bm25.get_scores(ids)
            return full
        index, rows = self._public
        scores[rows] = index.get_scores(ids)
        return scores

    def _token_ids(self, text: str) -> list[int]:
        """The index's ids of a text's terms, unknown ones left out. Read-only: bm25s's own
        tokenize() remembers every new query word even with update_vocab=False, so a server
        answering arbitrary queries would grow without end."""
        known: dict[str, int] = self._tokenizer.stem_to_sid
        return [known[term] for term in terms(text) if term in known]

    def scores_of(self, scores: np.ndarray, chunk_ids: list[str]) -> dict[str, float]:
        """Per-chunk values of a score array, for the chunks of this snapshot."""
        return {c: float(scores[self._row[c]]) for c in chunk_ids if c in self._row}

    def dense_search(
        self, vector: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> list[tuple[IndexedChunk, float]]:
        """Exact nearest chunks among those the caller may see and the filters keep."""
        if not self.chunks:
            return []
        mask = self.mask(filters, access)
        scores = np.where(mask, self.vectors @ vector, -np.inf)
        k = min(k, int(mask.sum()))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.chunks[int(i)], float(scores[i])) for i in top]

    def search(
        self, scores: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
    ) -> list[tuple[IndexedChunk, float]]:
        """Top chunks by BM25 (`scores`, from `bm25`) among those the caller may see and the
        filters keep; chunks without any query word are not hits."""
        if not self.chunks:
            return []
        masked = np.where(self.mask(filters, access), scores, 0.0)
        k = min(k, int(np.count_nonzero(masked > 0)))
        if k == 0:
            return []
        top = np.argpartition(-masked, k - 1)[:k]
        top = top[np.argsort(-masked[top], kind="stable")]
        return [(self.chunks[int(i)], float(masked[i])) for i in top]

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write atomically: a reader sees a whole snapshot or none. Another process may have
        saved the same generation first; theirs is as good as ours."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        with (tmp / "index.pkl").open("wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            tmp.rename(folder)
        except OSError:  # saved already: by another builder (keep theirs) or damaged (replace)
            if Snapshot.load(folder) is None:
                shutil.rmtree(folder, ignore_errors=True)
                try:
                    tmp.rename(folder)
                    return
                except OSError:
                    pass
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def load(folder: Path) -> Snapshot | None:
        try:
            with (folder / "index.pkl").open("rb") as f:
                index = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError,
                ImportError, IndexError, KeyError):  # fmt: skip
            return None  # damaged or foreign: rebuilt by the caller
        return index if isinstance(index, Snapshot) else None


# Bumped when what a snapshot pickles changes shape (v2: chunks carry acronym aliases; v3:
# one normaliser for BM25 and the gate, dates as dt.date; v4: a BM25 index of the public
# passages), so a new release never unpickles an old release's objects.
_FORMAT = 4


def _folder(data_dir: Path, generation: int, bm25: tuple[float, float]) -> Path:
    # The BM25 parameters are part of the name: a snapshot built with others is another one.
    name = f"v{_FORMAT}-gen-{generation}-k1-{bm25[0]:g}-b-{bm25[1]:g}"
    return data_dir / "snapshot" / name


def build(store: Store, data_dir: Path, bm25: tuple[float, float] = (0.9, 0.4)) -> Snapshot:
    """Build from the store's committed chunks and save it for other processes."""
    generation = store.generation()
    ready = {d.doc_id for d in store.documents()}
    pairs = [(c, v) for c, v in store.iter_chunks_with_vectors() if c.chunk.doc_id in ready]
    vectors = np.array([v for _, v in pairs], dtype=np.float32) if pairs else np.zeros((0, 1))
    index = Snapshot(generation, [c for c, _ in pairs], vectors, bm25)
    index.save(_folder(data_dir, generation, bm25))
    for old in (data_dir / "snapshot").iterdir():
        match = re.match(r"(?:v(\d+)-)?gen-(\d+)-", old.name)
        if not match:
            continue
        version, number = int(match.group(1) or 1), int(match.group(2))
        if version < _FORMAT or number < generation:  # never a newer one of this format
            shutil.rmtree(old, ignore_errors=True)
    return index


def load_or_build(store: Store, data_dir: Path, bm25: tuple[float, float] = (0.9, 0.4)) -> Snapshot:
    """The index for the store's current generation: loaded if saved, else built."""
    generation = store.generation()
    index = Snapshot.load(_folder(data_dir, generation, bm25))
    # A snapshot saved by an older version lacks some fields: build a new one.
    if (
        index is not None
        and index.generation == generation
        and getattr(index, "bm25_params", None) == bm25
    ):
        return index
    return build(store, data_dir, bm25)
