"""One normaliser: BM25's tokenizer and the evidence gate see the same content words."""

from __future__ import annotations

import pytest

from kb.snapshot import _tokenizer
from kb.text import STOP_WORDS, stem, terms

TEXTS = [
    "What did the pilot projects learn about engaging employers?",
    "Skills Mobility Partnerships (SMPs) need the private sector's trust; COVID-19 delayed them.",
    "Die Blaue Karte EU: Verträge über fünf Monate für Pflegekräfte.",
    "How many workers were recruited, and which sectors were targeted?",
    "A B c: one-letter words and stop words such as the, of, which are not content.",
]


@pytest.mark.parametrize("text", TEXTS)
def test_bm25_tokenizer_and_gate_agree_on_terms(text: str) -> None:
    tokenizer = _tokenizer()
    ids = tokenizer.tokenize([text], return_as="ids", show_progress=False)[0]
    vocabulary = {i: word for word, i in tokenizer.get_vocab_dict().items()}
    assert [vocabulary[i] for i in ids] == terms(text)


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
