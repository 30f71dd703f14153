"""The whole path over the sample library: ingest into a real Chroma, search, cited answers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport, run
from kb.answer import NO_ANSWER
from kb.gate import question_names
from kb.library import Library
from kb.settings import Settings
from kb.types import EVERYONE, MEMBERS, DocType, SearchFilters
from tests.helpers import ask, find
from ui.evaluation import with_mode

pytestmark = pytest.mark.e2e
BRIEF = "mpf-policy-brief-pilot-projects-2020"


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_sample_library_goes_in_whole(
    sample: tuple[Settings, IngestReport, Path], library: Library
) -> None:
    _, report, _ = sample
    assert report.failed == []
    assert report.files == 5
    # 25 news items + 3 network-page-only items + 3 single documents; 3 items were on both pages.
    assert len(report.added) == 31 and report.duplicates == 3
    assert report.chunks == library.chunk_count(MEMBERS)
    types = {d.doc_type for d in library.documents()}
    assert {
        DocType.news,
        DocType.policy_brief,
        DocType.conference_report,
        DocType.emn_inform,
    } <= types


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("What did the pilot projects learn about engaging the private sector?", BRIEF),
        (
            "Which prerequisites did the IOM list for successful skills mobility partnerships?",
            "emn-inform-skills-mobility-partnerships-2022",
        ),
        (
            "How was digitalisation discussed at the fourth LMPN conference?",
            "lmpn-conference-2025-from-lessons-to-levers",
        ),
        ("Who can become a member of the practitioners network?", None),
    ],
)
def test_questions_find_the_right_document(
    library: Library, question: str, doc_id: str | None
) -> None:
    hits = find(library, question, k=5)
    if doc_id:
        assert doc_id in [h.citation.doc_id for h in hits[:3]]
    else:  # the membership rules are a dated item of the network page
        assert any("open to practitioners from EU Member States" in h.text for h in hits[:3])


def test_acronyms_defined_in_a_file_are_found_by_their_long_form(library: Library) -> None:
    # The membership item says only "the EU LMPN"; another item of the same page defines it.
    hits = find(library, "Who is eligible to join the Labour Migration Practitioners Network?")
    top = next(h for h in hits[:3] if "open to practitioners from EU Member States" in h.text)
    assert "Labour Migration Practitioners’ Network" in top.aliases
    assert "Labour Migration Practitioners" not in top.text  # searched, never quoted
    assert top.section == "EU Labour Migration Practitioners' Network (LMPN)"  # its page


def test_answers_quote_the_stored_page_text_verbatim(library: Library) -> None:
    answer = ask(library, "What did the pilot projects learn about engaging the private sector?")
    assert not answer.abstained
    assert answer.citations and any(c.doc_id == BRIEF for c in answer.citations)
    chunk_ids = {c.chunk.chunk_id for c in library.chunks()}
    for citation in answer.citations:
        (page,) = [p for p in library.pages(citation.doc_id, EVERYONE) if p.number == citation.page]
        # The offsets find the quote again in the stored page text: a saved excerpt re-checks.
        assert page.text[citation.start : citation.end] == citation.quote
        assert citation.chunk_id in chunk_ids
        assert f"{citation.quote} [{citation.n}]" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "How do I bake sourdough bread?",
        "Which football club won the 2019 Champions League final?",
    ],
)
def test_questions_the_library_cannot_answer_abstain(library: Library, question: str) -> None:
    answer = ask(library, question)
    assert answer.abstained and answer.answer.startswith(NO_ANSWER)
    assert answer.citations == ()
    assert answer.see_also


def test_a_question_about_a_place_the_passages_never_mention_abstains(library: Library) -> None:
    # Close in meaning and words to the policy brief, which is about other member states.
    question = "What did the Dutch pilot project learn about engaging employers?"
    answer = ask(library, question)
    assert answer.abstained and answer.citations == ()
    assert answer.answer == f"{NO_ANSWER} None of the closest passages mentions “Dutch”."
    lithuanian = ask(library, question.replace("Dutch", "Lithuanian"))
    assert not lithuanian.abstained and lithuanian.citations


def test_each_retriever_alone_ranks_by_its_own_score(library: Library) -> None:
    question = "What did the pilot projects learn about engaging employers?"
    dense = find(Library(with_mode(library.settings, "dense")), question, k=10)
    similarities = [h.similarity for h in dense]
    assert [h.score for h in dense] == pytest.approx(similarities, abs=1e-6)
    assert similarities == sorted(similarities, reverse=True)  # type: ignore[type-var]
    bm25 = find(Library(with_mode(library.settings, "bm25")), question, k=10)
    hybrid = find(library, question, k=10)
    # BM25 scores are unbounded; fused scores are at most the sum of the weights (1).
    assert bm25[0].score > 1.0 >= hybrid[0].score
    assert [h.chunk_id for h in bm25] != [h.chunk_id for h in dense]


@pytest.mark.parametrize(
    "question",
    [
        "What did the pilot projects learn about engaging employers? Please answer briefly.",
        "What did pilot project X learn about engaging employers?",
        "Was lernten die Pilotprojekte über die Zusammenarbeit mit Arbeitgebern?",
        "What Did The Pilot Projects Learn About Engaging Employers?",
        "If I'll be staying less than a year and I’m paid monthly, do I need a permit?",
    ],
)
def test_sentence_starts_letters_german_nouns_and_title_case_are_not_names(
    library: Library, question: str
) -> None:
    assert question_names(question) == []


def test_filters_are_applied_in_the_query(library: Library) -> None:
    news = find(
        library,
        "labour migration conference",
        k=10,
        filters=SearchFilters(doc_types=(DocType.news,)),
    )
    assert news and all(h.citation.doc_type == DocType.news for h in news)
    window = SearchFilters(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31))
    dated = find(library, "labour migration", k=10, filters=window)
    assert dated and all(h.citation.date and h.citation.date.year == 2024 for h in dated)
    assert find(library, "labour migration", filters=SearchFilters(languages=("de",))) == []


def test_near_duplicates_are_returned_once(library: Library) -> None:
    hits = find(
        library,
        "Projects that have been able to continuously consult and update their requirements",
        k=10,
    )
    texts = [_normal(h.text) for h in hits]
    assert len(texts) == len(set(texts))


def test_a_second_ingest_changes_nothing(
    sample: tuple[Settings, IngestReport, Path], library: Library
) -> None:
    settings, first, corpus = sample
    generation = library.generation()
    chunks = library.chunk_count(MEMBERS)
    again = run([corpus], settings, progress=False)
    assert again.unchanged == 5 and not again.added and not again.updated and not again.removed
    assert library.generation() == generation
    assert library.chunk_count(MEMBERS) == chunks == first.chunks
