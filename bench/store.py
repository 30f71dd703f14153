"""Store benchmark: HNSW recall against exact search, and query latency at 100k chunks.

Real embeddings: the SciFact abstracts (../shared/eval-data/scifact) embedded with the
bundled model; the collection is filled to N vectors with perturbed copies of them (real
neighbourhood structure, no duplicates). Queries are the SciFact test queries.

Prints recall@10/@50 of Chroma's HNSW for several `ef_search` values against exact numpy
search, and p50/p95 latency of: unfiltered HNSW, HNSW with a `where` filter keeping ~20% and
~80%, and exact numpy search with a boolean mask (the alternative for filtered queries).

    .venv/bin/python bench/store.py [--n 100000] [--real 5183]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parents[1])

from kb.embedder import load_embedder  # noqa: E402
from kb.settings import EmbedderSettings  # noqa: E402

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "scifact"
CACHE = Path(tempfile.gettempdir()) / "kb-bench-scifact-vectors.npz"


def real_vectors(limit: int) -> tuple[np.ndarray, np.ndarray]:
    """SciFact passages and test queries embedded (cached between runs in the temp folder)."""
    if CACHE.exists():
        cached = np.load(CACHE)
        if len(cached["docs"]) >= limit:
            return cached["docs"][:limit], cached["queries"]
    embedder = load_embedder(EmbedderSettings())
    docs = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()][:limit]
    queries = [json.loads(line) for line in (SCIFACT / "queries.jsonl").open()]
    test_ids = {line.split("\t")[0] for line in (SCIFACT / "qrels" / "test.tsv").open()}
    texts = [f"{d.get('title', '')}. {d['text']}" for d in docs]
    started = time.perf_counter()
    doc_vectors = embedder.embed(texts)
    print(f"embedded {len(texts)} passages in {time.perf_counter() - started:.0f} s")
    query_vectors = embedder.embed([q["text"] for q in queries if q["_id"] in test_ids])
    np.savez(CACHE, docs=doc_vectors, queries=query_vectors)
    return doc_vectors, query_vectors


def fill(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n unit vectors: the real ones, then perturbed copies of them."""
    rng = np.random.default_rng(seed)
    extra = real[rng.integers(0, len(real), n - len(real))]
    extra = extra + rng.normal(0, 0.04, extra.shape).astype(np.float32)
    vectors = np.vstack([real, extra]).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def percentiles(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"p50 {statistics.median(ms):6.1f} ms  p95 {ms[int(0.95 * (len(ms) - 1))]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--real", type=int, default=5183)
    args = parser.parse_args()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    real, queries = real_vectors(args.real)
    vectors = fill(real, args.n)
    rng = np.random.default_rng(1)
    kind = rng.random(args.n)  # a catalogue field: 20% "study", 80% "news"
    exact = np.argsort(-(queries @ vectors.T), axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        client = chromadb.PersistentClient(tmp, settings=ChromaSettings(anonymized_telemetry=False))
        metadatas = [{"kind": "study" if k < 0.2 else "news"} for k in kind]
        for ef in (10, 64, 256):
            # Search breadth is fixed per collection here, so each setting gets its own.
            hnsw = {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": ef}
            collection = client.create_collection(
                f"bench-ef-{ef}",
                embedding_function=None,
                configuration={"hnsw": hnsw},  # type: ignore[arg-type]
            )
            started = time.perf_counter()
            for i in range(0, args.n, 2000):
                collection.add(
                    ids=[str(j) for j in range(i, min(i + 2000, args.n))],
                    embeddings=vectors[i : i + 2000],
                    metadatas=metadatas[i : i + 2000],  # type: ignore[arg-type]
                )
            inserted = time.perf_counter() - started
            recall: dict[int, list[float]] = {10: [], 50: []}
            times = []
            for q, truth in zip(queries, exact, strict=True):
                started = time.perf_counter()
                got = collection.query(query_embeddings=[q], n_results=50, include=["distances"])
                times.append(time.perf_counter() - started)
                ids = [int(i) for i in got["ids"][0]]
                for k in recall:
                    recall[k].append(len(set(ids[:k]) & set(truth[:k].tolist())) / k)
            print(
                f"HNSW ef_search={ef:4d}: recall@10 {np.mean(recall[10]):.3f}  "
                f"recall@50 {np.mean(recall[50]):.3f}  {percentiles(times)}  "
                f"(insert {inserted:.0f} s)"
            )
        for share, where in (("20%", {"kind": "study"}), ("80%", {"kind": "news"})):
            times = []
            for q in queries[:100]:
                started = time.perf_counter()
                collection.query(
                    query_embeddings=[q], n_results=50, where=where, include=["distances"]
                )
                times.append(time.perf_counter() - started)
            print(f"HNSW + where keeping {share}: {percentiles(times)}")
        # The access layout: public (80%) and members-only (20%) chunks in two collections.
        hnsw = {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": 256}
        levels = {}
        for level, keep in (("public", kind >= 0.2), ("members", kind < 0.2)):
            ids = np.flatnonzero(keep)
            levels[level] = client.create_collection(
                f"bench-{level}",
                embedding_function=None,
                configuration={"hnsw": hnsw},  # type: ignore[arg-type]
            )
            for i in range(0, len(ids), 2000):
                part = ids[i : i + 2000]
                levels[level].add(ids=[str(j) for j in part], embeddings=vectors[part])
        for who, names in (("anonymous", ["public"]), ("member", ["public", "members"])):
            times = []
            for q in queries:
                started = time.perf_counter()
                found = []
                for name in names:
                    got = levels[name].query(
                        query_embeddings=[q], n_results=50, include=["distances"]
                    )
                    found += list(zip(got["distances"][0], got["ids"][0], strict=True))
                sorted(found)[:50]
                times.append(time.perf_counter() - started)
            print(f"access layout, {who:9} ({' + '.join(names)}): {percentiles(times)}")
        mask = kind < 0.2
        times = []
        for q in queries:
            started = time.perf_counter()
            scores = vectors @ q
            scores[~mask] = -2
            np.argpartition(-scores, 50)[:50]
            times.append(time.perf_counter() - started)
        print(f"exact numpy + mask ({args.n} x 384): {percentiles(times)}")


if __name__ == "__main__":
    main()
