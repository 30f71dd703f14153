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

from kb.answer_types import carries_answer, compares
from kb.gate import term_coverage
from kb.settings import AnswerSettings
from kb.text import preceding_sentence, set_off_footnotes, split_sentences, starts_mid_thought
from kb.types import Citation, Hit

_MIN_SENTENCE_WORDS = 4  # "Collective expulsions are prohibited." answers
_SENTENCE_END = re.compile(r"[.!?;:][\"”’)\]]*$|\[\d+\][.]?$")
# Footnotes and references ("[3] IOM, ..., last accessed 3 January 2022") answer nothing.
_REFERENCE = re.compile(
    r"^\s*(\[\d+\]|\d{1,3}\s+[A-Z])|last accessed|Available at:|https?://", re.I
)
_MAX_SENTENCE_CHARS = 600
# What an instruction planted in a document looks like: addressed to an assistant or its
# prompt, not to a reader of a policy brief. No composer quotes one as an answer.
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(of\s+)?(the\s+|your\s+)?"
    r"((previous|prior|above|earlier|preceding|system)\s+)?(instructions|prompts?)\b"
    r"|\b(system|developer) (prompt|message)\b"
    r"|\byou are (now )?(an? )?(ai|assistant|language model|chatgpt)\b"
    r"|\bas an ai (language model|assistant)\b",
    re.I,
)
_BULLETS = "•▪●-– "
_CARRIES_BONUS = 0.15  # a sentence with what the question asks for (a duration, a number...)


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
    """Every sentence of the passages that could answer: long enough, ends like a sentence,
    not a heading, a question, a footnote or a reference."""
    found = []
    for i, hit in enumerate(hits):
        for start, end in split_sentences(hit.text):
            span = trim_span(hit.text, start, end)
            sentence = hit.text[span[0] : span[1]]
            if (
                len(sentence.split()) >= _MIN_SENTENCE_WORDS
                and len(sentence) <= _MAX_SENTENCE_CHARS
                and not _REFERENCE.search(sentence)
                and not INSTRUCTION.search(sentence)
                and _SENTENCE_END.search(sentence)  # a heading is not an answer
                and not sentence.rstrip('”"’)').endswith("?")  # nor is a question
            ):
                found.append(Span(i, *span))
    return found


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding space or a leading bullet: layout, not words; what is
    left is still a verbatim quote."""
    while start < end and (text[start].isspace() or text[start] in _BULLETS):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


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


class ExtractiveComposer:
    """The sentences closest in meaning to the question, favouring higher-ranked passages,
    each quoted verbatim and followed by its marker."""

    def __init__(
        self, embed: Callable[[Sequence[str]], np.ndarray], settings: AnswerSettings
    ) -> None:
        self._embed = embed
        self._settings = settings

    def pick(self, question: str, hits: Sequence[Hit]) -> list[Span]:
        spans = quotable_spans(hits)
        if not spans:
            whole = trim_span(hits[0].text, 0, len(hits[0].text))
            return [Span(0, *whole)]
        sentences = [hits[s.hit].text[s.start : s.end] for s in spans]
        # One model call for the question and its candidate sentences together.
        vectors = self._embed([question, *sentences])
        similarity = vectors[1:] @ vectors[0]
        coverage = np.array([term_coverage(question, s) for s in sentences])
        rank_prior = np.array([1.0 / (1 + s.hit) for s in spans])
        carries = np.array([carries_answer(question, s) is True for s in sentences])
        score = similarity + 0.2 * coverage + 0.2 * rank_prior + _CARRIES_BONUS * carries
        chosen: list[Span] = []
        said: set[str] = set()
        for j in np.argsort(-score):
            if len(chosen) == self._settings.max_sentences or (chosen and similarity[j] < 0.25):
                break
            if " ".join(sentences[j].split()) in said:  # overlapping passages repeat sentences
                continue
            said.add(" ".join(sentences[j].split()))
            chosen.append(spans[j])
        if compares(question):
            chosen = self._both_sides(chosen, spans, hits, score)
        return chosen

    @staticmethod
    def _both_sides(
        chosen: list[Span], spans: list[Span], hits: Sequence[Hit], score: np.ndarray
    ) -> list[Span]:
        """A comparison quotes each side: when every chosen sentence comes from one document,
        the best sentence of the next document takes the last place."""
        docs = {hits[s.hit].citation.doc_id for s in chosen}
        if len(docs) != 1:
            return chosen
        others = [j for j in np.argsort(-score) if hits[spans[j].hit].citation.doc_id not in docs]
        if not others:
            return chosen
        keep = chosen[:-1] if len(chosen) > 1 else chosen
        return [*keep, spans[others[0]]]

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
