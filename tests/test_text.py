"""One normaliser: BM25 (kb/index.py indexes `terms`) and the evidence gate see the same
content words."""

from __future__ import annotations

from kb.text import STOP_WORDS, stem, terms


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
