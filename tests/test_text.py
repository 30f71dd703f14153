"""One normaliser: BM25 (kb/index.py indexes `terms`) and the evidence gate see the same
content words."""

from __future__ import annotations

import pytest

from kb.compose import cite
from kb.text import (
    STOP_WORDS,
    best_sentence,
    preceding_sentence,
    set_off_footnotes,
    starts_mid_thought,
    stem,
    terms,
)
from kb.types import DocType, Hit, Reference


def test_terms_drop_stop_and_question_words_and_stem_the_rest() -> None:
    assert terms("What did the pilot projects learn about engaging employers?") == [
        "pilot",
        "project",
        "learn",
        "engag",
        "employ",
    ]
    assert {"what", "which", "tell", "many"} <= STOP_WORDS
    assert stem("partnerships") == "partnership"
    assert terms("a I x") == []  # one-letter words are no terms


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("knowledge sharing[3]. [1] More", "knowledge sharing³. ¹ More"),
        (
            "an interim corrective action.6 The FAA sent",
            "an interim corrective action.⁶ The FAA sent",
        ),
        ("adopted in 2018. The rules", "adopted in 2018. The rules"),  # a year is no footnote
        ("Article 3.2 The", "Article 3.2 The"),
    ],
)
def test_a_sources_footnote_markers_are_set_off(source: str, shown: str) -> None:
    assert set_off_footnotes(source) == shown


@pytest.mark.parametrize(
    ("quote", "leans"),
    [
        ("has targeted these sectors so far.", True),
        ("These sectors were chosen first.", True),
        ("However, employers hesitated.", True),
        ("Private sector engagement remains key.", False),
        ("2024 saw the first arrivals.", False),
    ],
)
def test_quotes_that_lean_on_what_came_before(quote: str, leans: bool) -> None:
    assert starts_mid_thought(quote) is leans


TEXT = (
    "Pilot projects chose agriculture and care. These sectors had the clearest shortages. "
    "Employers paid for language courses."
)


def test_a_mid_thought_quote_carries_the_sentence_before_it() -> None:
    hit = Hit(
        text=TEXT,
        score=1.0,
        chunk_id="c",
        citation=Reference(doc_id="d", title="t", doc_type=DocType.study, date=None, source="s"),
    )
    start = TEXT.index("These")
    leaning = cite(1, hit, start, TEXT.index("Employers") - 1)
    assert leaning.context == "Pilot projects chose agriculture and care."
    assert leaning.quote == "These sectors had the clearest shortages."  # itself unchanged
    assert cite(2, hit, TEXT.index("Employers"), len(TEXT)).context is None
    assert preceding_sentence(TEXT, 0) is None


def test_the_best_sentence_shares_most_of_the_querys_words() -> None:
    start, end = best_sentence("which sectors had shortages", TEXT) or (0, 0)
    assert TEXT[start:end].strip() == "These sectors had the clearest shortages."
    assert best_sentence("visa fees", TEXT) is None
