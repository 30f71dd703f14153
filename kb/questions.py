"""Questions that need more than "retrieve, gate, compose": one not in English, one that asks
what the library holds from a time ("What happened in November 2024?"), one answered only by
an announcement of something still to come, and time questions whose answers give dates.

Each function takes what answer_stream already has and returns an Answer, or None when the
rule does not apply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb.answer_types import compares
from kb.compose import cite
from kb.library import Library
from kb.search import passage_hit
from kb.text import question_language, set_off_footnotes, split_sentences, terms, trim_span
from kb.types import Access, Answer, Citation, Document, Hit, Reference, SearchFilters
from kb.when import TimeFrame

LANGUAGES = {"de": "German", "fr": "French"}
# A sentence that announces rather than reports: "will take place", "is planned", "on the
# map for 2026".
_ANNOUNCES = re.compile(
    r"\bwill\b|\b(is|are|was|were) (planned|scheduled|foreseen|expected|due)\b"
    r"|\b(forthcoming|upcoming|to be held|to take place|next (edition|conference|meeting)"
    r"|on the map|looking ahead|in anticipation)\b",
    re.I,
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# A question about what happened, not about what is planned.
_ASKS_WHAT_HAPPENED = re.compile(
    r"\b(what happened|what (was|were) (decided|agreed|discussed|said|concluded|the results?|"
    r"the outcomes?)|who (attended|spoke|took part)|took place|(what|how) did)\b",
    re.I,
)
_ASKS_FUTURE = re.compile(r"\b(will|planned|upcoming|next|forthcoming|scheduled|when is)\b", re.I)


def closest(hits: Sequence[Hit], count: int) -> tuple[Reference, ...]:
    found: dict[str, Reference] = {}
    for hit in hits:
        found.setdefault(hit.citation.doc_id, hit.citation)
    return tuple(list(found.values())[:count])


def not_in_english(question: str, hits: Sequence[Hit], see_also: int) -> Answer | None:
    """A German or French question: the library answers in English; the closest documents
    (found by the names and words the languages share) are listed."""
    language = question_language(question)
    if language == "en":
        return None
    said = (
        f"The library answers questions in English, and this one reads as "
        f"{LANGUAGES[language]}. Ask it in English for an answer quoted from the library."
    )
    return Answer(
        question=question,
        answer=said + (" The closest documents are listed." if hits else ""),
        abstained=True,
        see_also=closest(hits, see_also),
        notice=said,
    )


def dated_listing(
    library: Library,
    question: str,
    frame: TimeFrame,
    filters: SearchFilters | None,
    access: tuple[Access, ...],
    count: int,
) -> Answer | None:
    """'What happened in November 2024?': the documents dated then, newest first, each by its
    opening sentence with its date. None when nothing is dated then."""
    documents = [d for d in library.documents(access, frame.merged(filters)) if d.date]
    citations = [c for c in (_opening(library, d, access, n) for n, d in enumerate(
        documents[:count], start=1)) if c is not None]  # fmt: skip
    if not citations:
        return None
    more = len(documents) - len(citations)
    tail = f" The library holds {more} more from then." if more > 0 else ""
    return Answer(
        question=question, answer=dated_text(citations) + tail, citations=tuple(citations)
    )


def _opening(
    library: Library, doc: Document, access: tuple[Access, ...], n: int
) -> Citation | None:
    """Citation [n]: the document's first sentence, as its first passage has it."""
    chunks = library.document_chunks(doc.doc_id, access)
    if not chunks:
        return None
    chunk = chunks[0]
    hit = passage_hit(library, doc, chunk, access, score=1.0)
    sentences = split_sentences(chunk.text) or [(0, len(chunk.text))]
    return cite(n, hit, *trim_span(chunk.text, *sentences[0]))


def dated_text(citations: Sequence[Citation]) -> str:
    """Quotes each preceded by its document's date: an answer to a time question says when."""
    return " ".join(
        f"{c.date.isoformat() + ': ' if c.date else ''}{set_off_footnotes(c.quote)} [{c.n}]"
        for c in citations
    )


def announces(citation: Citation) -> bool:
    """Whether a quote announces what is still to come: in its words, or by naming a year
    after its document's date."""
    if _ANNOUNCES.search(citation.quote):
        return True
    dated = citation.date.year if citation.date else None
    return dated is not None and any(int(y) > dated for y in _YEAR.findall(citation.quote))


def only_announced(question: str, answer: Answer) -> bool:
    """Whether a question about what happened is answered, where its answer shares most with
    the question, only by sentences announcing it ("What was decided at the fifth
    conference?" against "the fifth edition ... on the map for 2026")."""
    if not answer.citations or _ASKS_FUTURE.search(question) or compares(question):
        return False  # a comparison sets two accounts side by side, whatever their tense
    if not _ASKS_WHAT_HAPPENED.search(question):
        return False
    wanted = set(terms(question))
    overlap = {c.n: len(wanted & set(terms(c.quote))) for c in answer.citations}
    best = max(overlap.values())
    return all(announces(c) for c in answer.citations if overlap[c.n] == best)
