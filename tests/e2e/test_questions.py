"""Questions that need more than retrieval: time, other languages, events only announced
(kb/questions.py, kb/when.py), over the sample library with the real store and model."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import run
from kb.answer import answer
from kb.library import Library
from kb.search import search
from kb.types import MEMBERS
from tests.conftest import CORPUS, make_settings

pytestmark = pytest.mark.e2e


def _ask(library: Library, question: str):  # type: ignore[no-untyped-def]
    settings = library.settings
    return answer(library, question, settings.answer, settings.retrieval, access=MEMBERS)


def test_what_happened_in_a_month_lists_what_is_dated_then(library: Library) -> None:
    reply = _ask(library, "What happened in November 2024?")
    assert not reply.abstained and reply.citations
    dated = [
        d for d in library.documents(MEMBERS) if d.date and d.date.strftime("%Y-%m") == "2024-11"
    ]
    assert {c.doc_id for c in reply.citations} <= {d.doc_id for d in dated}
    assert len(reply.citations) == min(len(dated), library.settings.answer.max_sentences)
    for c in reply.citations:  # each quote with its date
        assert c.date and f"{c.date.isoformat()}: " in reply.answer


def test_since_a_year_keeps_to_what_is_dated_since(library: Library) -> None:
    hits = search(library, "labour migration news since 2025", library.settings.retrieval,
                  access=MEMBERS)  # fmt: skip
    assert hits and all(h.citation.date and h.citation.date >= dt.date(2025, 1, 1) for h in hits)


def test_the_latest_conference_comes_first(library: Library) -> None:
    hits = search(library, "the latest LMPN conference", library.settings.retrieval,
                  access=MEMBERS)  # fmt: skip
    conferences = [h.citation.date for h in hits if h.citation.date and "onference" in h.text]
    assert conferences and hits[0].citation.date == max(conferences)


def test_a_question_not_in_english_is_told_the_library_answers_in_english(
    library: Library,
) -> None:
    reply = _ask(
        library, "Was haben die Pilotprojekte über die Zusammenarbeit mit Arbeitgebern gelernt?"
    )
    assert reply.abstained and "in English" in reply.answer and "German" in reply.answer
    assert reply.see_also  # the closest documents all the same


def test_an_event_only_announced_is_not_answered(library: Library) -> None:
    """The conference report says the fifth edition is 'on the map for 2026' and its report of
    proceedings 'forthcoming': neither tells what was decided."""
    for question in (
        "What was decided at the fifth LMPN conference?",
        "What did the report of proceedings of the fourth conference conclude?",
    ):
        reply = _ask(library, question)
        assert reply.abstained and "only announces" in reply.answer, question
    assert not _ask(
        library, "What did the pilot projects learn about engaging employers?"
    ).abstained


def test_a_comparison_quotes_each_side_on_its_topic(library: Library) -> None:
    reply = _ask(
        library,
        "How do the 2020 policy brief and the 2025 conference compare on engaging employers?",
    )
    assert not reply.abstained
    # Each side in turn, as many quotes each.
    sides = [c.doc_type.value for c in reply.citations]
    half = library.settings.answer.max_sentences // 2
    assert sorted(sides) == sorted(["policy_brief"] * half + ["conference_report"] * half)
    assert sides[:half] == [sides[0]] * half
    # About employers, not about the documents compared ("this policy brief seeks to...").
    for c in reply.citations:
        assert re.search(r"employ|engag|private|compan|business", c.quote, re.I), c.quote
        assert not re.search(r"policy brief|conference", c.quote, re.I), c.quote


def test_a_name_the_catalogue_gives_counts_as_mentioned(tmp_path: Path) -> None:
    """The regulation's text uses only its number; readers ask by its common name."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)  # enough passages for a name to be rare
    (corpus / "reg.md").write_text(
        "# Regulation (EU) 2031/77 on seasonal work\n\n"
        "Seasonal workers admitted under this Regulation may change employer once during "
        "their stay, provided the new employer is registered with the labour inspectorate.\n"
    )
    catalogue = corpus / "catalogue.csv"
    header, *rows = catalogue.read_text().splitlines()
    rows.append("reg.md,Regulation (EU) 2031/77,legal_text,,,en,public,,,,,,"
                "Zephyr Accord; Seasonal Mobility Act")  # fmt: skip
    catalogue.write_text("\n".join([header + ",aliases", *rows]) + "\n")
    settings = make_settings(tmp_path)
    assert run([corpus], settings, progress=False).failed == []
    library = Library(settings)
    reply = _ask(library, "Under the Zephyr Accord, can a seasonal worker change employer?")
    assert not reply.abstained and reply.citations[0].doc_id == "reg"
    # A name neither the text nor the catalogue gives still makes the answer abstain.
    assert _ask(
        library, "Under the Quokka Charter, can a seasonal worker change employer?"
    ).abstained
