"""Hybrid retrieval: dense (embedder + Chroma) and BM25, fused by reciprocal rank fusion.

Both retrievers search only what the caller may see and what the filters keep; fusion,
near-duplicate removal and citation building happen here, on our own types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.snapshot import Snapshot
from kb.store import StoredChunk
from kb.text import shingles
from kb.types import Access, Document, Hit, Reference, SearchFilters

if TYPE_CHECKING:
    from kb.library import Library


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Sum of 1 / (k + rank) over the rankings each id appears in (rank from 1)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def weighted_fusion(
    runs: Sequence[Mapping[str, float]], weights: Sequence[float]
) -> dict[str, float]:
    """Sum of weighted scores, each run min-max normalised to [0, 1] over the candidates it
    scores (a candidate a run does not score counts as that run's lowest)."""
    scores: dict[str, float] = {}
    for run, weight in zip(runs, weights, strict=True):
        if not run:
            continue
        low, high = min(run.values()), max(run.values())
        span = (high - low) or 1.0
        for item, value in run.items():
            scores[item] = scores.get(item, 0.0) + weight * (value - low) / span
    return scores


def complete_scores(
    snapshot: Snapshot,
    vector: np.ndarray,
    bm25: np.ndarray,
    dense: list[tuple[StoredChunk, float]],
    lexical: list[tuple[StoredChunk, float]],
) -> tuple[dict[str, float], dict[str, float]]:
    """Both retrievers' scores for every candidate either one found. A passage BM25 ranks
    first but the embedder ranks 60th is not absent from the dense run, only lower; scoring
    it (one dot product, one BM25 lookup) instead of counting it 0 measured +0.004 nDCG@10
    on SciFact train (0.735 -> 0.739)."""
    dense_scores = {c.chunk.chunk_id: s for c, s in dense}
    lexical_scores = {c.chunk.chunk_id: s for c, s in lexical}
    for cid in lexical_scores.keys() - dense_scores.keys():
        similarity = snapshot.similarity(cid, vector)
        if similarity is not None:
            dense_scores[cid] = similarity
    missing = list(dense_scores.keys() - lexical_scores.keys())
    lexical_scores.update(snapshot.scores_of(bm25, missing))
    return dense_scores, lexical_scores


def drop_near_duplicates(
    texts: Sequence[str], threshold: float, limit: int | None = None
) -> list[int]:
    """Indexes of texts to keep: one sharing `threshold` of its shingles with a kept one goes."""
    kept: list[int] = []
    kept_shingles: list[set[tuple[str, ...]]] = []
    for i, text in enumerate(texts):
        own = shingles(text)
        if any(
            len(own & other) / max(1, min(len(own), len(other))) >= threshold
            for other in kept_shingles
        ):
            continue
        kept.append(i)
        kept_shingles.append(own)
        if limit is not None and len(kept) == limit:
            break
    return kept


def file_url(base_url: str, doc_id: str, page: int | None) -> str:
    """The library's copy of the source, opened at the page where there is one."""
    url = f"{base_url.rstrip('/')}/api/documents/{doc_id}/file"
    return f"{url}#page={page}" if page else url


def reference(doc: Document, page: int | None, base_url: str) -> Reference:
    return Reference(
        doc_id=doc.doc_id,
        title=doc.title,
        doc_type=doc.doc_type,
        date=doc.date,
        page=page,
        source=Path(doc.source).name,  # the file's name; its location stays on the server
        url=file_url(base_url, doc.doc_id, page),
    )


def _dense(
    library: Library, vector: np.ndarray, k: int, filters: SearchFilters, access: tuple[Access, ...]
) -> list[tuple[StoredChunk, float]]:
    if filters.empty:  # the common query: HNSW over the allowed collections
        return library.store.dense_search(vector, k, filters, access)
    # exact search over the masked snapshot beats a filtered HNSW query (see snapshot.py)
    return library.snapshot().dense_search(vector, k, filters, access)


def hybrid_search(
    library: Library,
    query: str,
    k: int,
    filters: SearchFilters,
    access: tuple[Access, ...],
) -> list[Hit]:
    """The k best passages for a query, fused from dense and BM25 retrieval."""
    settings = library.settings.retrieval
    vector = library.embed_query(query)
    snapshot = library.snapshot()
    # Room for near-duplicates to be dropped and still return k passages when k exist.
    pool = max(settings.candidates, 2 * k)
    mode = settings.mode
    dense: list[tuple[StoredChunk, float]] = []
    lexical: list[tuple[StoredChunk, float]] = []
    bm25 = snapshot.bm25(query) if mode != "dense" else None
    if mode != "bm25":
        dense = _dense(library, vector, pool, filters, access)
        if settings.feedback_passages and dense:
            # Rocchio: move the query towards its best passages, then search again.
            top = [c.chunk.chunk_id for c, _ in dense[: settings.feedback_passages]]
            centroid = snapshot.mean_vector(top)
            if centroid is not None:
                moved = vector + settings.feedback_weight * centroid
                vector = moved / np.linalg.norm(moved)  # every dense score against this one
                dense = _dense(library, vector, pool, filters, access)
    if bm25 is not None:
        lexical = snapshot.search(bm25, pool, filters, access)
    similarity: dict[str, float | None] = {c.chunk.chunk_id: s for c, s in dense}
    if mode != "hybrid" or bm25 is None:  # one retriever: its own scores, nothing to fuse
        fused = {c.chunk.chunk_id: s for c, s in dense or lexical}
    elif settings.fusion == "weighted":
        dense_scores, lexical_scores = complete_scores(snapshot, vector, bm25, dense, lexical)
        similarity.update(dense_scores)  # BM25-only candidates have theirs now
        fused = weighted_fusion(
            [dense_scores, lexical_scores], [settings.dense_weight, 1.0 - settings.dense_weight]
        )
    else:
        fused = reciprocal_rank_fusion(
            [[c.chunk.chunk_id for c, _ in dense], [c.chunk.chunk_id for c, _ in lexical]],
            settings.rrf_k,
        )
    by_id: dict[str, StoredChunk] = {c.chunk.chunk_id: c for c, _ in lexical}
    by_id.update({c.chunk.chunk_id: c for c, _ in dense})
    documents = library.document_map()
    ranked = [
        cid
        for cid in sorted(fused, key=fused.__getitem__, reverse=True)
        # Committed documents only, and (defence in depth: the retrievers already searched only
        # what the caller may see) never one whose access changed a moment ago.
        if (doc := documents.get(by_id[cid].chunk.doc_id)) is not None and doc.access in access
    ]
    keep = drop_near_duplicates(
        [by_id[cid].chunk.text for cid in ranked], settings.duplicate_similarity, limit=k
    )
    top = [ranked[i] for i in keep][:k]
    for cid in top:
        if cid not in similarity:  # found by BM25 alone
            similarity[cid] = snapshot.similarity(cid, vector)
    hits = []
    for cid in top:
        chunk = by_id[cid].chunk
        hits.append(
            Hit(
                text=chunk.text,
                score=round(fused[cid], 6),
                citation=reference(documents[chunk.doc_id], chunk.page, library.settings.base_url),
                chunk_id=cid,
                section=chunk.section,
                aliases=chunk.aliases,
                similarity=similarity.get(cid),
            )
        )
    return hits
