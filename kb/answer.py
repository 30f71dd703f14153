"""Cited extractive answers: the most relevant sentences of the top passages, each with [n].

No language model: every sentence of an answer is quoted verbatim from a stored page, so
every claim is checkable. An evidence gate abstains when no passage really answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import Stemmer

from kb.search import hybrid_search
from kb.text import STOP_WORDS, content_words, index_text, split_sentences
from kb.types import Access, Answer, Citation, Hit, Reference, SearchFilters

if TYPE_CHECKING:
    from kb.library import Library

NO_ANSWER = "The library holds no passage that answers this."
_STEMMER = Stemmer.Stemmer("english")
_MIN_SENTENCE_WORDS = 4  # "Collective expulsions are prohibited." answers
_SENTENCE_END = re.compile(r"[.!?;:][\"”’)\]]*$|\[\d+\][.]?$")
# Footnotes and references ("[3] IOM, ..., last accessed 3 January 2022") answer nothing.
_REFERENCE = re.compile(
    r"^\s*(\[\d+\]|\d{1,3}\s+[A-Z])|last accessed|Available at:|https?://", re.I
)
_MAX_SENTENCE_CHARS = 600


@dataclass(frozen=True)
class Evidence:
    """How well the best passages support an answer: what the gate decides on."""

    similarity: float
    coverage: float

    def score(self, coverage_weight: float) -> float:
        """One number from both signals: a passage close in meaning that also holds the
        question's words. Neither alone separates the gold set's unanswerable questions from
        the answerable ones; their sum does, with a margin (bench/calibrate_gate.py)."""
        return self.similarity + coverage_weight * self.coverage


def _stems(text: str) -> set[str]:
    return set(_STEMMER.stemWords(content_words(text)))


def _searched_stems(hit: Hit) -> set[str]:
    """The stemmed words search matched the passage on: title, section, text, acronyms."""
    return _stems(index_text(hit.citation.title, hit.section, hit.text, hit.aliases))


def _coverage(wanted: set[str], found: set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


def term_coverage(question: str, passage: str) -> float:
    """Share of the question's content words (stemmed) present in the passage."""
    return _coverage(_stems(question), _stems(passage))


def assess(question: str, hits: list[Hit], top: int = 3) -> Evidence:
    """The best similarity and the best term coverage among the top passages."""
    best = hits[:top]
    wanted = _stems(question)
    similarity = max((h.similarity or 0.0 for h in best), default=0.0)
    coverage = max((_coverage(wanted, _searched_stems(h)) for h in best), default=0.0)
    return Evidence(similarity=similarity, coverage=coverage)


def unmatched_names(
    library: Library, question: str, hits: list[Hit], access: tuple[Access, ...]
) -> list[str]:
    """Names in the question that none of the passages mentions and that are rare in the
    library: asked about the Dutch highly skilled migrant scheme, a library on the German
    Blue Card finds passages close in meaning and words, yet none says "Dutch". A name is a
    capitalised word of two letters or more that does not start a sentence. A question typed
    in title case, or not in English (German capitalises every noun), has none."""
    tokens = list(re.finditer(r"[\w'’-]+", question))
    words = [m.group() for m in tokens]
    starts = {m.end() - 1 for m in re.finditer(r"(?:^|[.!?:;]\s+)[^\w]*\w", question)}
    names = [
        m.group()
        for m in tokens
        if m.group()[0].isupper()
        and m.start() not in starts
        and m.group().lower() not in STOP_WORDS
        and _stems(m.group())  # "X" in "Annex X" is no name to look for
    ]
    english = sum(w.lower() in STOP_WORDS for w in words) >= len(words) / 5
    if not english or len(names) > len(words) / 2:
        return []
    mentioned = set().union(*(_searched_stems(hit) for hit in hits))
    rare = library.settings.answer.rare_name_idf
    snapshot = library.snapshot()
    return [
        name
        for name in dict.fromkeys(names)
        if not (_stems(name) & mentioned) and snapshot.rarity(name, access) >= rare
    ]


def _candidate_sentences(hits: list[Hit]) -> list[tuple[int, str]]:
    """(hit index, sentence) for every quotable sentence of the passages."""
    found = []
    for i, hit in enumerate(hits):
        for start, end in split_sentences(hit.text):
            # A leading bullet is layout, not words: the rest is still a verbatim quote.
            sentence = hit.text[start:end].strip().lstrip("•▪●-– ").strip()
            if (
                len(sentence.split()) >= _MIN_SENTENCE_WORDS
                and len(sentence) <= _MAX_SENTENCE_CHARS
                and not _REFERENCE.search(sentence)
                and _SENTENCE_END.search(sentence)  # a heading is not an answer
                and not sentence.rstrip('”"’)').endswith("?")  # nor is a question
            ):
                found.append((i, sentence))
    return found


def _pick_sentences(
    library: Library, question: str, hits: list[Hit], limit: int
) -> list[tuple[int, str]]:
    """The sentences closest in meaning to the question, favouring higher-ranked passages."""
    candidates = _candidate_sentences(hits)
    if not candidates:
        return [(0, hits[0].text.strip())]
    # One model call for the question and its candidate sentences together.
    vectors = library.embedder.embed([question, *(s for _, s in candidates)])
    similarity = vectors[1:] @ vectors[0]
    coverage = np.array([term_coverage(question, s) for _, s in candidates])
    rank_prior = np.array([1.0 / (1 + i) for i, _ in candidates])
    score = similarity + 0.2 * coverage + 0.2 * rank_prior
    order = np.argsort(-score)
    chosen: list[tuple[int, str]] = []
    for j in order[:limit]:
        if chosen and similarity[j] < 0.25:
            break
        chosen.append(candidates[j])
    return chosen


def answer_question(
    library: Library,
    question: str,
    filters: SearchFilters,
    access: tuple[Access, ...],
    passages: int | None = None,
) -> Answer:
    """Answer from the library's passages, or abstain and point to the closest documents."""
    settings = library.settings.answer
    hits = hybrid_search(library, question, passages or settings.passages, filters, access)
    evidence = assess(question, hits)
    missing = unmatched_names(library, question, hits[:3], access) if hits else []
    if not hits or missing or evidence.score(settings.coverage_weight) < settings.min_evidence:
        reason = " None of the closest passages mentions {}.".format(
            " or ".join(f"“{name}”" for name in missing)
        )
        return Answer(
            question=question,
            answer=NO_ANSWER + (reason if missing else ""),
            abstained=True,
            see_also=_see_also(hits, settings.see_also),
        )
    citations = []
    parts = []
    for n, (i, sentence) in enumerate(
        _pick_sentences(library, question, hits, settings.max_sentences), start=1
    ):
        ref = hits[i].citation
        citations.append(Citation(n=n, quote=sentence, **ref.model_dump()))
        parts.append(f"{sentence} [{n}]")
    return Answer(question=question, answer=" ".join(parts), citations=tuple(citations))


def _see_also(hits: list[Hit], limit: int) -> tuple[Reference, ...]:
    seen: dict[str, Reference] = {}
    for hit in hits:
        seen.setdefault(hit.citation.doc_id, hit.citation)
    return tuple(list(seen.values())[:limit])
