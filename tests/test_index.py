"""The search index (kb/index.py) on real files and a real embedded Chroma: its masks keep what
the store's where-clause keeps, its BM25 equals bm25s's over the same passages however the
index grew, another reader sees a change at once, and an index that fell behind the store or
was damaged is repaired from the store."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from pathlib import Path

import bm25s
import numpy as np
import pytest

from kb import index as indexes
from kb.index import Index
from kb.library import Library
from kb.locks import write_lock
from kb.settings import Settings
from kb.store import Store, filter_clause
from kb.types import (
    EVERYONE,
    MEMBERS,
    Access,
    Chunk,
    DocType,
    Document,
    Page,
    ParsedDocument,
    SearchFilters,
)
from tests.conftest import make_settings

# (doc_id, type, date, language, access): undated, boundary days, both access levels.
DOCUMENTS = [
    ("brief-2020", DocType.policy_brief, dt.date(2020, 11, 4), "en", Access.public),
    ("news-2024-jan", DocType.news, dt.date(2024, 1, 1), "en", Access.public),
    ("news-2024-dec", DocType.news, dt.date(2024, 12, 31), "de", Access.members),
    ("report-2025", DocType.conference_report, dt.date(2025, 6, 30), "fr", Access.members),
    ("undated-page", DocType.page, None, "en", Access.public),
    ("guidance-2023", DocType.guidance, dt.date(2023, 5, 17), "de", Access.public),
]
FILTERS = [
    SearchFilters(),
    SearchFilters(doc_types=(DocType.news,)),
    SearchFilters(doc_types=(DocType.news, DocType.page)),
    SearchFilters(languages=("de",)),
    SearchFilters(languages=("en", "fr")),
    SearchFilters(date_from=dt.date(2024, 1, 1)),
    SearchFilters(date_to=dt.date(2024, 1, 1)),
    SearchFilters(date_to=dt.date(2023, 12, 31)),
    SearchFilters(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31)),
    SearchFilters(date_from=dt.date(2030, 1, 1)),
    SearchFilters(doc_types=(DocType.news,), languages=("en",), date_to=dt.date(2024, 6, 1)),
]
WORDS = [
    "labour",
    "migration",
    "employers",
    "pilot",
    "project",
    "skills",
    "partnership",
    "mobility",
    "talent",
    "visa",
    "recruitment",
    "nurses",
    "seasonal",
    "workers",
    "training",
    "Morocco",
    "Tunisia",
    "Nigeria",
    "lessons",
    "learnt",
    "integration",
    "language",
    "courses",
    "matching",
    "vacancies",
    "shortage",
    "occupations",
    "Blue",
    "Card",
]
QUERIES = [
    "pilot project employers",
    "skills partnership Morocco nurses",
    "seasonal workers visa visa",  # a repeated word counts twice, as in bm25s
    "lessons learnt about matching vacancies",
    "Blue Card shortage occupations training",
]
DIMENSION = 8
ALL = np.ones(DIMENSION, dtype=np.float32) / np.sqrt(DIMENSION)


def _document(doc_id: str, access: Access = Access.public, **fields: object) -> Document:
    return Document(doc_id=doc_id, title=doc_id.replace("-", " "), access=access,
                    source=f"/library/{doc_id}.md", **fields)  # type: ignore[arg-type]  # fmt: skip


def _passages(doc: Document, n: int, rng: np.random.Generator) -> tuple[list[Chunk], np.ndarray]:
    chunks = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(5, 40))))
        chunks.append(Chunk(chunk_id=f"{doc.doc_id}-{i}", doc_id=doc.doc_id, text=text,
                            start=0, end=len(text)))  # fmt: skip
    vectors = rng.normal(size=(n, DIMENSION)).astype(np.float32)
    return chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def store_and_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Index]:
    settings = make_settings(tmp_path_factory.mktemp("index"))
    store = Store(settings)
    index = Index(settings.data_dir / "index")
    for doc_id, doc_type, date, language, access in DOCUMENTS:
        doc = _document(doc_id, access, doc_type=doc_type, date=date, language=language)
        text = f"A passage of {doc_id} about labour migration."
        chunks = [
            Chunk(chunk_id=f"{doc_id}-{i}", doc_id=doc_id, text=text, start=0, end=len(text))
            for i in range(2)
        ]
        vectors = np.random.default_rng(len(doc_id)).normal(size=(3, DIMENSION))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        parsed = ParsedDocument(document=doc, pages=(Page(text=text),))
        store.write_document(parsed, chunks, vectors[:2], vectors[2])
        index.add([doc.model_copy(update={"chunks": 2})], chunks, vectors[:2])  # one segment each
    return store, index


@pytest.mark.parametrize(
    ("filters", "access"), list(itertools.product(FILTERS, [EVERYONE, MEMBERS]))
)
def test_both_retrievers_keep_exactly_what_the_store_clause_keeps(
    store_and_index: tuple[Store, Index], filters: SearchFilters, access: tuple[Access, ...]
) -> None:
    store, index = store_and_index
    view = index.view()
    chroma = set()
    for level in access:
        got = store._chunks[level].get(
            where=filter_clause(filters), include=[]
        )  # as Chroma runs it
        chroma |= set(got["ids"])
    dense = view.dense_search(ALL, 50, filters, access)
    assert {c.chunk.chunk_id for c, _ in dense} == chroma
    lexical = view.search(view.bm25("passage migration", access), 50, filters, access)
    assert {c.chunk.chunk_id for c, _ in lexical} == chroma
    assert all(c.access in access for c, _ in dense + lexical)
    # The document list (what listings and dated questions filter) keeps the same documents.
    kept = {d.doc_id for d in index.records()[0] if d.access in access and filters.keeps(d)}
    assert kept == {chunk_id.rsplit("-", 1)[0] for chunk_id in chroma}


def test_rarity_counts_only_what_the_caller_may_see(store_and_index: tuple[Store, Index]) -> None:
    view = store_and_index[1].view()
    # "report" is in a members-only document's title (titles are searched).
    assert view.rarity("report", MEMBERS) < view.rarity("report", EVERYONE)
    assert view.rarity("Zanzibar", EVERYONE) > view.rarity("passage", EVERYONE) == 0.0


def _reference_scores(
    docs: dict[str, Document], chunks: list[Chunk], query: str, k1: float, b: float
) -> dict[str, float]:
    """bm25s, given the same words, over the passages alone: what the index must equal."""
    reference = bm25s.BM25(k1=k1, b=b)
    reference.index([indexes.tokens(docs[c.doc_id], c) for c in chunks], show_progress=False)
    query_tokens = [t for t in indexes.terms(query) if t in reference.vocab_dict]
    scores = reference.get_scores(query_tokens) if query_tokens else np.zeros(len(chunks))
    return {c.chunk_id: float(s) for c, s in zip(chunks, scores, strict=True)}


def _our_scores(index: Index, query: str, access: tuple[Access, ...]) -> dict[str, float]:
    view = index.view()
    scores = view.bm25(query, access)
    return {c.chunk.chunk_id: s for c, s in view.search(scores, 10_000, SearchFilters(), access)}


def test_bm25_equals_bm25s_however_the_index_grew(tmp_path: Path) -> None:
    """Documents added one by one (merged on the way), one replaced, one removed, one made
    members-only: the scores are bm25s's over the passages that are left, with anonymous
    statistics over the public passages alone."""
    rng = np.random.default_rng(11)
    index = Index(tmp_path / "index", (0.9, 0.4))
    docs: dict[str, Document] = {}
    passages: dict[str, list[Chunk]] = {}
    for n in range(14):  # more than _FANOUT of each size: merges happen
        doc = _document(f"doc-{n}", Access.members if n % 5 == 0 else Access.public)
        chunks, vectors = _passages(doc, int(rng.integers(1, 6)), rng)
        index.add([doc], chunks, vectors)
        docs[doc.doc_id], passages[doc.doc_id] = doc, chunks
    replaced = _document("doc-3")
    chunks, vectors = _passages(replaced, 4, rng)
    passages["doc-3"] = [c.model_copy(update={"chunk_id": c.chunk_id + "-new"}) for c in chunks]
    index.add([replaced], passages["doc-3"], vectors)
    index.remove(["doc-7"])
    del docs["doc-7"], passages["doc-7"]
    docs["doc-4"] = docs["doc-4"].model_copy(update={"access": Access.members})
    index.update([docs["doc-4"]])
    assert len(list((tmp_path / "index").glob("seg-*"))) > 1
    view = index.view()
    assert view.live == sum(len(p) for p in passages.values()) < view.size  # dead rows wait

    for access in (MEMBERS, EVERYONE):
        visible = [c for d, cs in passages.items() if docs[d].access in access for c in cs]
        for query in QUERIES:
            ours = _our_scores(index, query, access)
            reference = _reference_scores(docs, visible, query, 0.9, 0.4)
            expected = {c: s for c, s in reference.items() if s > 0}
            assert ours.keys() == expected.keys(), query
            for chunk_id, score in expected.items():
                assert ours[chunk_id] == pytest.approx(score, rel=1e-4), (query, chunk_id)


def test_merges_keep_segments_few_and_delete_what_no_reader_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    grown = Index(tmp_path / "grown")
    whole = Index(tmp_path / "whole")
    everything: list[tuple[Document, list[Chunk], np.ndarray]] = []
    for n in range(30):
        doc = _document(f"doc-{n}")
        chunks, vectors = _passages(doc, 3, rng)
        grown.add([doc], chunks, vectors)
        everything.append((doc, chunks, vectors))
    whole.add(
        [d for d, _, _ in everything],
        [c for _, cs, _ in everything for c in cs],
        np.concatenate([v for _, _, v in everything]),
    )
    live = grown.view()._segments
    # 30 documents of 3 passages: tiers of 4 merged as they fill, never 4 of one size left.
    sizes = [s.rows for s in live]
    assert 1 < len(live) < len(everything) and indexes.merge_plan(grown.view()) == []
    assert all(sizes.count(n) < indexes._FANOUT for n in sizes), sizes
    for query in QUERIES:
        assert _our_scores(grown, query, EVERYONE) == pytest.approx(
            _our_scores(whole, query, EVERYONE)
        )
    nearest = [
        c.chunk.chunk_id for c, _ in grown.view().dense_search(ALL, 10, SearchFilters(), EVERYONE)
    ]
    assert nearest == [
        c.chunk.chunk_id for c, _ in whole.view().dense_search(ALL, 10, SearchFilters(), EVERYONE)
    ]
    # Merged-away segments stay on disk for readers still using them, then go.
    assert len(list((tmp_path / "grown").glob("seg-*"))) > len(live)
    monkeypatch.setattr(indexes, "_KEEP_RETIRED_SECONDS", 0.0)
    grown.remove(["doc-0"])
    on_disk = {p.name for p in (tmp_path / "grown").glob("seg-*")}
    assert on_disk == {s.name for s in grown.view()._segments}


def test_a_clustered_segment_finds_what_a_whole_scan_finds(tmp_path: Path) -> None:
    """A segment written grouped by k-means lists (rows reordered): BM25 scores unchanged,
    passages and documents still found by id, and a query reading a fifth of the lists
    finds nearly every nearest passage a scan of all of them finds; filters that keep few
    passages widen the read, so they still return every passage they keep."""
    rng = np.random.default_rng(21)
    whole = Index(tmp_path / "whole", clustered_from=10**6)
    clustered = Index(tmp_path / "clustered", probe_share=0.2, clustered_from=100)
    docs, chunks, vectors = [], [], []
    for n in range(60):
        doc = _document(f"doc-{n}", Access.members if n % 5 == 0 else Access.public,
                        doc_type=DocType.news if n % 10 == 1 else DocType.study)  # fmt: skip
        own, own_vectors = _passages(doc, 10, rng)
        # Passages of a document lie near each other, as real topics do.
        own_vectors = own_vectors * 0.3 + rng.normal(size=DIMENSION).astype(np.float32)
        own_vectors /= np.linalg.norm(own_vectors, axis=1, keepdims=True)
        docs.append(doc), chunks.extend(own), vectors.append(own_vectors)
    for index in (whole, clustered):
        index.add(docs, chunks, np.concatenate(vectors))
    segment = clustered.view()._segments[0]
    assert segment.centroids is not None and whole.view()._segments[0].centroids is None
    passage = clustered.view().chunk("doc-7-3")
    assert passage is not None and passage.chunk.chunk_id == "doc-7-3"
    assert [c.chunk.chunk_id for c in clustered.view().document_chunks("doc-8")] == [
        f"doc-8-{i}" for i in range(10)
    ]
    for query in QUERIES:
        assert _our_scores(clustered, query, MEMBERS) == pytest.approx(
            _our_scores(whole, query, MEMBERS)
        )
    found = []
    for _ in range(40):
        vector = rng.normal(size=DIMENSION).astype(np.float32)
        vector /= np.linalg.norm(vector)
        exact = {
            c.chunk.chunk_id
            for c, _ in whole.view().dense_search(vector, 10, SearchFilters(), MEMBERS)
        }
        near = {
            c.chunk.chunk_id
            for c, _ in clustered.view().dense_search(vector, 10, SearchFilters(), MEMBERS)
        }
        found.append(len(exact & near) / 10)
    assert np.mean(found) >= 0.9, found
    news = SearchFilters(doc_types=(DocType.news,))
    assert len(clustered.view().dense_search(ALL, 100, news, EVERYONE)) == 60  # 6 documents


def test_another_reader_sees_each_change_at_once(tmp_path: Path) -> None:
    """Two Index objects on one folder, as two server workers hold it."""
    writer, reader = Index(tmp_path / "index"), Index(tmp_path / "index")
    rng = np.random.default_rng(3)
    first = _document("first")
    writer.add([first], *_passages(first, 3, rng))
    assert {
        c.chunk.doc_id for c, _ in reader.view().dense_search(ALL, 10, SearchFilters(), EVERYONE)
    } == {"first"}
    second = _document("second", doc_type=DocType.news)
    writer.add([second], *_passages(second, 2, rng))
    news = SearchFilters(doc_types=(DocType.news,))
    assert {c.chunk.doc_id for c, _ in reader.view().dense_search(ALL, 10, news, EVERYONE)} == {
        "second"
    }
    writer.update([second.model_copy(update={"access": Access.members})])
    assert reader.view().dense_search(ALL, 10, news, EVERYONE) == []
    assert len(reader.view().dense_search(ALL, 10, news, MEMBERS)) == 2
    writer.remove(["first"])
    assert reader.view().dense_search(ALL, 10, SearchFilters(), EVERYONE) == []
    assert reader.view().chunk("first-0") is None
    assert [c.chunk.chunk_id for c in reader.view().document_chunks("second")] == [
        "second-0",
        "second-1",
    ]


def _parsed(doc: Document, n: int) -> tuple[ParsedDocument, list[Chunk], np.ndarray]:
    chunks, vectors = _passages(doc, n, np.random.default_rng(n))
    with_title = np.vstack([vectors, vectors[:1]])  # the title's vector comes last
    return ParsedDocument(document=doc, pages=(Page(text="x"),)), chunks, with_title


def test_every_process_keeps_its_document_list_from_the_index(tmp_path: Path) -> None:
    """A reader's document list follows every change a writer makes (added, re-classified,
    replaced, removed), equals what the store holds, and is read in proportion to what
    changed: a reconciliation that finds nothing different rewrites no record."""
    settings = make_settings(tmp_path)
    writer, reader = Library(settings), Library(settings)
    dated = [_parsed(_document(d, date=dt.date(2024, 3, 1)), 2) for d in ("alpha", "beta")]
    writer.add_documents(dated)  # the bulk path: one store call per step, one segment
    writer.add_document(*_parsed(_document("gamma", date=dt.date(2024, 3, 1)), 2))
    assert set(reader.document_map(MEMBERS)) == {"alpha", "beta", "gamma"}
    assert {c.chunk.doc_id for c in reader.chunks()} == {"alpha", "beta", "gamma"}

    writer.update_document(reader.document("beta").model_copy(
        update={"access": Access.members, "url": "https://example.org/beta"}))  # fmt: skip
    second_edition = _document("gamma").model_copy(update={"title": "Gamma, second edition"})
    writer.add_document(*_parsed(second_edition, 3))
    writer.remove_document("alpha")
    reader.invalidate()
    assert set(reader.document_map(EVERYONE)) == {"gamma"}
    assert reader.document("beta", MEMBERS).url == "https://example.org/beta"
    assert reader.document("gamma").title == "Gamma, second edition"
    assert reader.document("gamma").chunks == 3
    stored = {d.doc_id: d for d in Store(settings).documents()}
    assert reader.document_map(MEMBERS) == stored
    assert [
        d.doc_id for d in reader.documents(MEMBERS, SearchFilters(date_from=dt.date(2024, 1, 1)))
    ] == ["beta"]

    index = Index(settings.data_dir / "index")
    version = index.version()
    with write_lock(settings.data_dir):
        writer.reconcile_index(always=True)
    assert index.records(since=version)[0] == []


def test_an_index_from_before_the_document_records_is_completed_in_place(
    tmp_path: Path,
) -> None:
    """An index written by the release before document records: its manifest gains the
    columns and the records come from the store, without indexing any passage again."""
    settings = make_settings(tmp_path)
    library = Library(settings)
    for doc_id in ("alpha", "beta"):
        library.add_document(*_parsed(_document(doc_id), 2))
    library.close()
    manifest = settings.data_dir / "index" / "manifest.sqlite"
    with sqlite3.connect(manifest) as db:
        db.execute("DROP INDEX documents_by_change")
        db.execute("ALTER TABLE documents DROP COLUMN record")
        db.execute("ALTER TABLE documents DROP COLUMN changed")
    segments_before = sorted(p.name for p in manifest.parent.glob("seg-*"))

    again = Library(settings)
    assert set(again.document_map()) == {"alpha", "beta"}
    assert again.document_map() == {d.doc_id: d for d in Store(settings).documents()}
    assert sorted(p.name for p in manifest.parent.glob("seg-*")) == segments_before


def _write_behind_the_index(settings: Settings, doc_id: str) -> None:
    """A document in the store that the index never heard of (a crash between the store's
    write and the index's, or an older release writing)."""
    doc = _document(doc_id, doc_type=DocType.study)
    rng = np.random.default_rng(len(doc_id))
    chunks, vectors = _passages(doc, 3, rng)
    parsed = ParsedDocument(document=doc, pages=(Page(text="x"),))
    Store(settings).write_document(parsed, chunks, vectors, vectors[0])


def test_the_library_repairs_an_index_behind_the_store_or_damaged(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    _write_behind_the_index(settings, "written-behind")
    library = Library(settings)
    found = library.view().dense_search(ALL, 10, SearchFilters(), EVERYONE)
    assert {c.chunk.doc_id for c, _ in found} == {"written-behind"}

    # Removed from the store behind the index's back: gone from the index too.
    Store(settings).delete_document("written-behind")
    library.invalidate()
    assert library.view().dense_search(ALL, 10, SearchFilters(), EVERYONE) == []

    # A damaged segment file: rebuilt from the store, the same passages found.
    _write_behind_the_index(settings, "another")
    library.invalidate()
    before = [
        c.chunk.chunk_id for c, _ in library.view().dense_search(ALL, 10, SearchFilters(), EVERYONE)
    ]
    for segment in (settings.data_dir / "index").glob("seg-*"):
        (segment / "post_rows.npy").write_bytes(b"not an array")
    fresh = Library(settings)
    after = [
        c.chunk.chunk_id for c, _ in fresh.view().dense_search(ALL, 10, SearchFilters(), EVERYONE)
    ]
    assert after == before and len(after) == 3

    # A damaged manifest: the same.
    (settings.data_dir / "index" / "manifest.sqlite").write_bytes(b"garbage" * 1000)
    for extra in (settings.data_dir / "index").glob("manifest.sqlite-*"):
        extra.unlink()
    again = Library(settings)
    assert [
        c.chunk.chunk_id for c, _ in again.view().dense_search(ALL, 10, SearchFilters(), EVERYONE)
    ] == before


def test_a_library_embedded_with_another_model_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)
    Index(settings.data_dir / "index").record_embedder("minilm-int8")
    library = Library(settings)
    with caplog.at_level("WARNING"):
        library.view()
        library.view()
    warnings = [r.getMessage() for r in caplog.records if "--reindex" in r.getMessage()]
    assert len(warnings) == 1 and "'minilm-int8'" in warnings[0]
