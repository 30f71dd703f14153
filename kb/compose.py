"""Composers turn the passages that passed the evidence gate into an answer with citations.

`Composer` is the protocol; `ExtractiveComposer` quotes the sentences closest in meaning to
the question, verbatim, so every claim is checkable. A language-model composer is another
implementation of the same protocol (kb/generate.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kb.answer_types import carries_answer, compares, pinpoints
from kb.gate import term_coverage
from kb.settings import AnswerSettings
from kb.text import (
    preceding_sentence,
    quotable_sentences,
    set_off_footnotes,
    starts_mid_thought,
    terms,
    trim_span,
)
from kb.types import Citation, Hit

_CARRIES_BONUS = 0.15  # a sentence with what the question asks for (a duration, a number...)
# A sentence with exactly what is asked ("over 220 members" for "how many members", a month
# for "which month"): its words often share little with the question, so it needs more.
_PINPOINTS_BONUS = 0.45
# A sentence this far below the best one adds length, not evidence (the gold sets' quoted
# evidence is the same with and without the sentences it drops).
_BEHIND_BEST = 0.5


@dataclass(frozen=True)
class Composition:
    """An answer's text (with [n] markers) and the citations the markers point to."""

    text: str
    citations: tuple[Citation, ...]
    composer: str = "extractive"
    notice: str | None = None


class Composer(Protocol):
    def compose(self, question: str, hits: Sequence[Hit]) -> Composition:
        """An answer to the question from these passages, every claim cited."""
        ...

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[Composition]:
        """The answer as it grows; the last composition is the final answer."""
        ...


@dataclass(frozen=True)
class Span:
    """A quotable stretch of a passage: its hit and its offsets in the passage text."""

    hit: int
    start: int
    end: int


def quotable_spans(hits: Sequence[Hit]) -> list[Span]:
    """Every sentence of the passages that could answer (see `quotable_sentences`)."""
    return [Span(i, *span) for i, hit in enumerate(hits) for span in quotable_sentences(hit.text)]


def cite(n: int, hit: Hit, start: int, end: int) -> Citation:
    """Citation [n] of hit.text[start:end], with its offsets in the page text, and the
    sentence before it when the quote starts mid-thought."""
    quote = hit.text[start:end]
    return Citation(
        n=n,
        quote=quote,
        chunk_id=hit.chunk_id,
        start=hit.start + start,
        end=hit.start + end,
        context=preceding_sentence(hit.text, start) if starts_mid_thought(quote) else None,
        **hit.citation.model_dump(),
    )


def compared_documents(hits: Sequence[Hit]) -> list[str]:
    """The two documents a comparison sets side by side: the first two the passages come from."""
    return list(dict.fromkeys(h.citation.doc_id for h in hits))[:2]


def compared_topic(question: str, hits: Sequence[Hit]) -> str:
    """What a comparison is about, without what it compares: the words of the two documents'
    titles and the years that name them ("between the 2020 policy brief and the 2025
    conference") would otherwise pick each document's sentences about itself."""
    docs = compared_documents(hits)
    titles = {h.citation.doc_id: h.citation.title for h in hits}
    named = set(terms(" ".join(titles[d] for d in docs)))
    kept = [
        w
        for w in re.findall(r"[\w'’-]+|[^\w\s]", question)
        if not re.fullmatch(r"(19|20)\d\d", w) and not (set(terms(w)) & named)
    ]
    topic = " ".join(kept)
    return topic if len(terms(topic)) >= 2 else question


class ExtractiveComposer:
    """The sentences closest in meaning to the question, favouring higher-ranked passages,
    each quoted verbatim and followed by its marker."""

    def __init__(
        self,
        embed_query: Callable[[str], np.ndarray],
        embed_sentences: Callable[[Sequence[str]], np.ndarray],
        settings: AnswerSettings,
    ) -> None:
        self._embed_query = embed_query
        self._embed_sentences = embed_sentences  # kept from ingest (kb/sentences.py)
        self._settings = settings

    def pick(self, question: str, hits: Sequence[Hit]) -> list[Span]:
        spans = quotable_spans(hits)
        if not spans:
            whole = trim_span(hits[0].text, 0, len(hits[0].text))
            return [Span(0, *whole)]
        sentences = [hits[s.hit].text[s.start : s.end] for s in spans]
        comparison = compares(question)
        asked = compared_topic(question, hits) if comparison else question
        similarity = self._embed_sentences(sentences) @ self._embed_query(asked)
        coverage = np.array([term_coverage(asked, s) for s in sentences])
        rank_prior = np.array([1.0 / (1 + s.hit) for s in spans])
        carries = np.array([carries_answer(question, s) is True for s in sentences])
        exact = np.array([pinpoints(question, s) is True for s in sentences])
        score = (
            similarity
            + 0.2 * coverage
            + 0.2 * rank_prior
            + _CARRIES_BONUS * carries
            + _PINPOINTS_BONUS * exact
        )
        chosen: list[Span] = []
        said: set[str] = set()
        order = np.argsort(-score)
        for j in order:
            if len(chosen) == self._settings.max_sentences:
                break
            if chosen and (similarity[j] < 0.25 or score[j] < score[order[0]] - _BEHIND_BEST):
                break
            if " ".join(sentences[j].split()) in said:  # overlapping passages repeat sentences
                continue
            said.add(" ".join(sentences[j].split()))
            chosen.append(spans[j])
        if comparison:
            chosen = self._both_sides(chosen, spans, hits, score)
        return chosen

    def _both_sides(
        self, chosen: list[Span], spans: list[Span], hits: Sequence[Hit], score: np.ndarray
    ) -> list[Span]:
        """A comparison quotes each side: the best sentences of each of the two documents
        that rank first (retrieval puts their passages in turn: kb/answer.py), one side's
        after the other's."""
        docs = compared_documents(hits)
        if len(docs) < 2:
            return chosen
        per_side = max(1, self._settings.max_sentences // 2)
        picked: list[Span] = []
        for doc in docs:
            said: set[str] = set()
            side = [j for j in np.argsort(-score) if hits[spans[j].hit].citation.doc_id == doc]
            for j in side:
                span = spans[j]
                text = " ".join(hits[span.hit].text[span.start : span.end].split())
                if text in said:
                    continue
                said.add(text)
                picked.append(span)
                if len(said) == per_side:
                    break
        return picked

    def compose(self, question: str, hits: Sequence[Hit]) -> Composition:
        citations = tuple(
            cite(n, hits[span.hit], span.start, span.end)
            for n, span in enumerate(self.pick(question, hits), start=1)
        )
        # The answer's markers are ours alone: a source's own "[3]" reads as ³ in the text.
        text = " ".join(f"{set_off_footnotes(c.quote)} [{c.n}]" for c in citations)
        return Composition(text=text, citations=citations)

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[Composition]:
        yield self.compose(question, hits)  # quoting is one step: nothing to stream
