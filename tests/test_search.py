import datetime as dt

import pytest

from kb.search import drop_near_duplicates, reciprocal_rank_fusion
from kb.store import filter_clause
from kb.types import DocType, SearchFilters


def test_rrf_rewards_agreement_between_rankings() -> None:
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert max(scores, key=scores.__getitem__) == "b"
    assert set(scores) == {"a", "b", "c", "d"}


def test_near_duplicate_passages_are_returned_once() -> None:
    base = (
        "Private sector engagement remains a key aspect that makes or breaks "
        "the success of a pilot project."
    )
    texts = [
        base,
        "An unrelated passage about seasonal work permits in Spain and Portugal.",
        base + " Indeed.",
    ]
    assert drop_near_duplicates(texts, 0.8) == [0, 1]


def test_filters_become_one_store_clause() -> None:
    assert filter_clause(SearchFilters()) is None
    assert filter_clause(SearchFilters(doc_types=(DocType.news,))) == {
        "doc_type": {"$in": ["news"]}
    }
    clause = filter_clause(
        SearchFilters(date_from=dt.date(2020, 1, 1), date_to=dt.date(2021, 6, 30))
    )
    assert clause == {"$and": [{"date": {"$gte": 20200101}}, {"date": {"$lte": 20210630}}]}


def test_weighted_fusion_normalises_each_run_and_weighs_it() -> None:
    from kb.search import weighted_fusion

    scores = weighted_fusion([{"a": 0.9, "b": 0.5}, {"b": 12.0, "c": 4.0}], [0.7, 0.3])
    assert scores["a"] == pytest.approx(0.7)
    assert scores["b"] == pytest.approx(0.3)
    assert scores["c"] == pytest.approx(0.0)
    # complete scores: each run ranges over all candidates
    scores = weighted_fusion(
        [{"a": 0.9, "b": 0.5, "c": 0.7}, {"a": 0.0, "b": 10.0, "c": 5.0}], [0.5, 0.5]
    )
    assert scores == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.5})
