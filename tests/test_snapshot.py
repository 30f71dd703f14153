"""The snapshot's masks against the store's where-clause, on a real embedded Chroma; and a
saved snapshot that is damaged or of another format is rebuilt, not trusted."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest

from kb import snapshot as snapshots
from kb.settings import Settings
from kb.store import Store, filter_clause
from kb.text import index_text
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


@pytest.fixture(scope="module")
def store_and_snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Settings]:
    settings = make_settings(tmp_path_factory.mktemp("snapshot"))
    store = Store(settings)
    rng = np.random.default_rng(7)
    for doc_id, doc_type, date, language, access in DOCUMENTS:
        text = f"A passage of {doc_id} about labour migration."
        doc = Document(
            doc_id=doc_id,
            title=doc_id,
            doc_type=doc_type,
            date=date,
            language=language,
            access=access,
            source=f"/library/{doc_id}.md",
        )
        chunks = [
            Chunk(chunk_id=f"{doc_id}-{i}", doc_id=doc_id, text=text, start=0, end=len(text))
            for i in range(2)
        ]
        vectors = rng.normal(size=(3, 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        parsed = ParsedDocument(document=doc, pages=(Page(text=text),))
        store.write_document(parsed, chunks, vectors[:2], vectors[2])
    return store, settings


@pytest.mark.parametrize(
    ("filters", "access"), list(itertools.product(FILTERS, [EVERYONE, MEMBERS]))
)
def test_masks_keep_exactly_what_the_store_clause_keeps(
    store_and_snapshot: tuple[Store, Settings],
    filters: SearchFilters,
    access: tuple[Access, ...],
) -> None:
    store, settings = store_and_snapshot
    snapshot = snapshots.load_or_build(store, settings.data_dir)
    kept = snapshot.mask(filters, access)
    masked = {c.chunk.chunk_id for c, keep in zip(snapshot.chunks, kept, strict=True) if keep}
    where = filter_clause(filters)
    chroma = set()
    for level in access:
        got = store._chunks[level].get(where=where, include=[])  # the clause, as Chroma runs it
        chroma |= set(got["ids"])
    assert masked == chroma
    # Both retrievers obey the mask: exact vector search returns only kept chunks.
    hits = snapshot.dense_search(np.ones(8, dtype=np.float32) / np.sqrt(8), 50, filters, access)
    assert {c.chunk.chunk_id for c, _ in hits} == masked


def test_a_damaged_saved_snapshot_is_rebuilt(store_and_snapshot: tuple[Store, Settings]) -> None:
    store, settings = store_and_snapshot
    first = snapshots.load_or_build(store, settings.data_dir)
    (saved,) = [p for p in (settings.data_dir / "snapshot").iterdir() if p.is_dir()]
    index_file = saved / "index.pkl"
    assert index_file.is_file()  # the file the loader reads
    index_file.write_bytes(b"not a pickle")
    assert snapshots.Snapshot.load(saved) is None
    again = snapshots.load_or_build(store, settings.data_dir)
    assert [c.chunk.chunk_id for c in again.chunks] == [c.chunk.chunk_id for c in first.chunks]
    assert snapshots.Snapshot.load(saved) is not None  # saved whole again


def test_bm25_counts_only_what_the_caller_may_see_in_rarity(
    store_and_snapshot: tuple[Store, Settings],
) -> None:
    store, settings = store_and_snapshot
    snapshot = snapshots.load_or_build(store, settings.data_dir)
    # "report" is the stem of a members-only document's id (its title is searched).
    assert snapshot.rarity("report", MEMBERS) < snapshot.rarity("report", EVERYONE)
    assert snapshot.rarity("Zanzibar", EVERYONE) > snapshot.rarity("passage", EVERYONE) == 0.0


def test_settings_point_the_snapshot_at_the_data_dir(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    store = Store(settings)
    empty = snapshots.load_or_build(store, settings.data_dir)
    assert empty.chunks == [] and (settings.data_dir / "snapshot").is_dir()
    assert empty.search(empty.bm25("labour"), 5, SearchFilters(), EVERYONE) == []


def test_anonymous_bm25_scores_ignore_members_only_passages(
    store_and_snapshot: tuple[Store, Settings],
) -> None:
    store, settings = store_and_snapshot
    snapshot = snapshots.load_or_build(store, settings.data_dir)
    public = [i for i, c in enumerate(snapshot.chunks) if c.access is Access.public]
    alone = snapshots.Snapshot(
        0, [snapshot.chunks[i] for i in public], snapshot.vectors[public], snapshot.bm25_params
    )
    query = "news passage about labour migration 2024"
    anonymous = snapshot.bm25(query, EVERYONE)
    # Exactly the scores of a library that never held the members-only passages...
    assert anonymous[public] == pytest.approx(alone.bm25(query, EVERYONE))
    assert anonymous[[i for i in range(len(snapshot.chunks)) if i not in public]].sum() == 0
    # ...while members are scored over everything they may read.
    member = snapshot.bm25(query, MEMBERS)
    assert member[public] != pytest.approx(anonymous[public])


def test_queries_never_grow_the_vocabulary(store_and_snapshot: tuple[Store, Settings]) -> None:
    store, settings = store_and_snapshot
    snapshot = snapshots.load_or_build(store, settings.data_dir)
    tokenizer = snapshot._tokenizer
    text = index_text(snapshot.chunks[0].title, None, snapshot.chunks[0].chunk.text)
    expected = tokenizer.tokenize([text], update_vocab=False, return_as="ids", show_progress=False)
    assert snapshot._token_ids(text) == expected[0]
    before = {name: len(v) for name, v in vars(tokenizer).items() if isinstance(v, dict)}
    for i in range(200):
        snapshot.bm25(f"zxq{i} unheard-of words {i * 7919}", EVERYONE)
        snapshot.rarity(f"Qwzx{i}", EVERYONE)
    assert {name: len(v) for name, v in vars(tokenizer).items() if isinstance(v, dict)} == before
