"""Cited answers in three steps: retrieve the passages, assess them (the evidence gate,
kb/gate.py), compose the answer from them (kb/compose.py) or abstain and point to the
closest documents."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import zip_longest

from kb.answer_types import compares
from kb.compose import Composer, ExtractiveComposer, compared_documents
from kb.gate import Verdict, assess
from kb.library import Library
from kb.questions import closest, dated_listing, dated_text, not_in_english, only_announced
from kb.search import search
from kb.settings import AnswerSettings, RetrievalSettings, Settings
from kb.types import EVERYONE, Access, Answer, Hit, SearchFilters
from kb.when import time_frame, topic

NO_ANSWER = "The library holds no passage that answers this."


def retrieve(
    library: Library,
    question: str,
    settings: AnswerSettings,
    retrieval: RetrievalSettings,
    filters: SearchFilters | None = None,
    access: tuple[Access, ...] = EVERYONE,
    passages: int | None = None,
) -> list[Hit]:
    """The passages an answer may draw on; when a document and the one superseding it both
    match, the newer one's passages come first."""
    wanted = passages or settings.passages
    if compares(question):
        pool = search(library, question, retrieval, _COMPARISON_POOL, filters, access)
        hits = both_sides(pool, wanted)
    else:
        hits = search(library, question, retrieval, wanted, filters, access)
    found = {h.citation.doc_id for h in hits}
    outdated = [h for h in hits if h.citation.superseded_by in found]
    return [h for h in hits if h not in outdated] + outdated


# A comparison's second side often ranks below the first side's best passages: its passages
# are looked for among this many, and each side brings up to three.
_COMPARISON_POOL = 20
_PER_SIDE = 3


def both_sides(pool: Sequence[Hit], passages: int) -> list[Hit]:
    """The best passages of the two documents that rank first, taken in turn (one side, the
    other, ...), then the rest of the pool: each side of a comparison has its own evidence."""
    docs = compared_documents(pool)
    sides = [[h for h in pool if h.citation.doc_id == doc] for doc in docs]
    taken = [h for pair in zip_longest(*sides) for h in pair if h is not None]
    rest = [h for h in pool if h not in taken]
    return (taken + rest)[: max(passages, 2 * _PER_SIDE)]


def abstention(question: str, hits: Sequence[Hit], verdict: Verdict, see_also: int) -> Answer:
    """No answer, saying why when a name was missing, and the closest documents."""
    reason = ""
    if verdict.missing_names:
        names = " or ".join(f"“{name}”" for name in verdict.missing_names)
        reason = f" None of the closest passages mentions {names}."
    return Answer(
        question=question,
        answer=NO_ANSWER + reason,
        abstained=True,
        see_also=closest(hits, see_also),
    )


def composer_for(library: Library, settings: Settings) -> Composer:
    """The composer the settings ask for: quoted sentences, or a language model (checked,
    with quoted sentences as its fallback) when one is configured."""
    extractive = ExtractiveComposer(library.embed_query, library.embed_sentences, settings.answer)
    if not settings.llm.enabled:
        return extractive
    from kb.generate import GenerativeComposer  # the openai client loads only when used

    return GenerativeComposer(settings.llm, extractive, settings.answer.max_sentences)


def answer(
    library: Library,
    question: str,
    settings: AnswerSettings,
    retrieval: RetrievalSettings,
    filters: SearchFilters | None = None,
    access: tuple[Access, ...] = EVERYONE,
    passages: int | None = None,
    composer: Composer | None = None,
) -> Answer:
    """Answer from the passages the caller may see, or abstain.

    Args:
        library: the library as this process sees it.
        question: what the user asked.
        settings: the evidence gate and the answer's size (the settings' `answer` group).
        retrieval: how passages are found (the settings' `retrieval` group).
        filters: catalogue filters (type, date range, language).
        access: the access levels the caller may read.
        passages: passages to draw on (default: the settings').
        composer: how the answer is written (default: quoted sentences).

    Returns:
        The answer with its citations, or an abstention with the closest documents.
    """
    *_, final = answer_stream(
        library, question, settings, retrieval, filters, access, passages, composer
    )
    return final


def answer_stream(
    library: Library,
    question: str,
    settings: AnswerSettings,
    retrieval: RetrievalSettings,
    filters: SearchFilters | None = None,
    access: tuple[Access, ...] = EVERYONE,
    passages: int | None = None,
    composer: Composer | None = None,
) -> Iterator[Answer]:
    """`answer`, as it grows: each yield is the answer so far, the last one final. Retrieval
    and the evidence gate run before the first yield; only composing streams."""
    hits = retrieve(library, question, settings, retrieval, filters, access, passages)
    if foreign := not_in_english(question, hits, settings.see_also):
        yield foreign
        return
    frame = time_frame(question, library.events)
    if frame.ranged and not topic(question):
        listing = dated_listing(library, question, frame, filters, access, settings.max_sentences)
        if listing is not None:
            yield listing
            return
    verdict = assess(library, question, hits, settings, access)
    if not verdict.answerable:
        yield abstention(question, hits, verdict, settings.see_also)
        return
    writer = composer or ExtractiveComposer(library.embed_query, library.embed_sentences, settings)
    announced = False
    for composition in writer.stream(question, hits):
        text = composition.text
        if not frame.empty and composition.composer == "extractive":
            text = dated_text(composition.citations)  # a time question's answer says when
        reply = Answer(
            question=question,
            answer=text,
            citations=composition.citations,
            composer=composition.composer,
            notice=composition.notice,
        )
        announced = only_announced(question, reply)
        if not announced:
            yield reply
    if announced:
        yield Answer(
            question=question,
            answer=f"{NO_ANSWER} The library only announces this as planned; it holds no "
            "account of it yet.",
            abstained=True,
            see_also=closest(hits, settings.see_also),
        )
