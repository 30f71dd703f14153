import math

import pytest

from kb.metrics import mrr_at, ndcg_at, recall_at
from ui.evaluation import normalise


def test_ndcg_follows_its_definition() -> None:
    relevant = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], relevant, 10) == pytest.approx(1.0)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at(["x", "a"], relevant, 10) == pytest.approx((1 / math.log2(3)) / ideal)
    assert ndcg_at(["x", "y"], relevant, 10) == 0.0


def test_recall_and_mrr() -> None:
    relevant = {"a": 1, "b": 1, "c": 0}
    assert recall_at(["a", "x", "b"], relevant, 2) == 0.5
    assert recall_at(["a", "x", "b"], relevant, 3) == 1.0
    assert mrr_at(["x", "c", "b"], relevant, 10) == pytest.approx(1 / 3)
    assert mrr_at(["x"], relevant, 10) == 0.0


def test_evidence_matching_ignores_case_punctuation_and_pdf_breaks() -> None:
    assert (
        normalise("Skills-\nMobility  Partner-\nships, (SMPs)!")
        == "skillsmobility partnerships smps"
    )
    assert normalise("pre-departure training") in normalise("Pre-departure\ntraining courses")
