"""The answer's steps on a small real library (embedded Chroma, the bundled model): the
evidence gate decides, the extractive composer quotes verbatim with offsets, and another
composer plugs in through the protocol."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from kb.answer import NO_ANSWER, answer, retrieve
from kb.compose import Composition, ExtractiveComposer, cite, quotable_spans
from kb.gate import Evidence, assess, evidence, question_names, rare_names, term_coverage
from kb.library import Library
from kb.settings import AnswerSettings
from kb.text import quotable_sentences
from kb.types import EVERYONE, MEMBERS, Access, Chunk, Document, Hit, Page, ParsedDocument
from tests.conftest import make_settings

PAGES = {
    "employers": (
        "Lessons from the pilot projects",
        "Engaging employers early is crucial for labour mobility projects. "
        "• Employers expect project coordinators to show results before they contribute. "
        "Why do employers hesitate? "
        "[3] IOM, Skills mobility, last accessed 3 January 2022.",
    ),
    "nursing": (
        "Recruiting nurses from abroad",
        "German hospitals recruit nurses from the Philippines and Mexico under the "
        "Triple Win programme. Recognition of qualifications takes about six months.",
    ),
    "secret": (
        "Members-only protocol",
        "The Zanzibar protocol sets out how members exchange confidential referrals.",
    ),
}


def _document(doc_id: str, title: str, text: str) -> ParsedDocument:
    access = Access.members if doc_id == "secret" else Access.public
    doc = Document(doc_id=doc_id, title=title, source=f"/lib/{doc_id}.md", access=access)
    return ParsedDocument(document=doc, pages=(Page(text=text),))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    # Three passages: "rare" must mean rarer than in a real library (idf 4: under ~2%).
    rare = AnswerSettings(rare_name_idf=1.0)
    library = Library(make_settings(tmp_path_factory.mktemp("answer"), answer=rare))
    for doc_id, (title, text) in PAGES.items():
        chunk = Chunk(chunk_id=f"{doc_id}-0", doc_id=doc_id, text=text, start=0, end=len(text))
        library.add_document(_document(doc_id, title, text), [chunk])
    return library


def _hits(library: Library, question: str, access: tuple[Access, ...] = EVERYONE) -> list[Hit]:
    settings = library.settings
    return retrieve(library, question, settings.answer, settings.retrieval, access=access)


def test_the_gate_adds_closeness_and_word_coverage(library: Library) -> None:
    question = "What did the pilot projects learn about engaging employers?"
    hits = _hits(library, question)
    found = evidence(question, hits)
    # pilot, project, engag, employ are in the title or text; "learn" is not ("Lessons")
    assert found.coverage == pytest.approx(0.8)
    assert found.score(1.0) == pytest.approx(found.similarity + found.coverage)
    # recognition, take(s) are there, "long" is not
    assert term_coverage("how long does recognition take", PAGES["nursing"][1]) == pytest.approx(
        2 / 3
    )
    verdict = assess(library, question, hits, library.settings.answer, EVERYONE)
    assert verdict.answerable and verdict.missing_names == ()
    unrelated = "How do I bake sourdough bread at home?"
    verdict = assess(
        library, unrelated, _hits(library, unrelated), library.settings.answer, EVERYONE
    )
    assert not verdict.answerable and verdict.evidence.score(1.0) < 1.02


def test_a_rare_name_no_passage_mentions_makes_the_gate_abstain(library: Library) -> None:
    question = "How do German hospitals recruit nurses from Kenya?"
    hits = _hits(library, question)
    verdict = assess(library, question, hits, library.settings.answer, EVERYONE)
    assert verdict.missing_names == ("Kenya",) and not verdict.answerable
    reply = answer(library, question, library.settings.answer, library.settings.retrieval)
    assert (
        reply.abstained
        and reply.answer == f"{NO_ANSWER} None of the closest passages mentions “Kenya”."
    )
    assert reply.see_also and reply.citations == ()


def test_an_acronym_the_library_never_uses_beside_a_name_it_holds_is_the_readers_shorthand(
    library: Library,
) -> None:
    # Two public passages: a name in one of them is rare at idf 0.41 (log 3/2).
    settings = library.settings.answer.model_copy(update={"rare_name_idf": 0.3})
    # "GIZ" stands nowhere in the library; "Triple Win" anchors the passages: answered.
    anchored = "How do German hospitals recruit nurses under the GIZ's Triple Win programme?"
    verdict = assess(library, anchored, _hits(library, anchored), settings, EVERYONE)
    assert verdict.missing_names == () and verdict.answerable
    # Alone, the unknown acronym is still a subject the library lacks.
    alone = "How do hospitals recruit nurses through the GIZ?"
    verdict = assess(library, alone, _hits(library, alone), settings, EVERYONE)
    assert verdict.missing_names == ("GIZ",) and not verdict.answerable
    # A place the library never names is no shorthand, anchored or not.
    place = "How do German hospitals recruit nurses in Lagos under Triple Win?"
    verdict = assess(library, place, _hits(library, place), settings, EVERYONE)
    assert verdict.missing_names == ("Lagos",) and not verdict.answerable


def test_a_month_no_passage_names_makes_the_gate_abstain(library: Library) -> None:
    question = "How long did recognition of nurses' qualifications take in March 2023?"
    reply = answer(library, question, library.settings.answer, library.settings.retrieval)
    assert reply.abstained and reply.answer.endswith("mentions “March 2023”.")


def test_names_are_capitalised_words_inside_an_english_sentence() -> None:
    assert question_names("Which nurses came from the Philippines under Triple Win?") == [
        "Philippines",
        "Triple",
        "Win",
    ]
    assert question_names("Please list what Annex X requires.") == []  # start, one letter
    assert question_names("Welche Pflegekräfte kamen aus Mexiko?") == []  # not English
    assert question_names("What Did The Pilot Projects Learn About Employers?") == []
    # A month is a date, not a name to look for.
    assert question_names("Which prizes were added in the October 2025 changes?") == []


def test_a_german_term_the_glossary_lacks_is_no_name_to_require(library: Library) -> None:
    # Neither word stands in the library: the English text would write the German term in
    # English, while a country it lacks is what the name rule is for.
    asked = "Must the employer tell the Betriebsrat before hiring nurses from Singapore?"
    assert set(question_names(asked)) == {"Betriebsrat", "Singapore"}
    assert rare_names(library, asked, EVERYONE, rare_idf=1.0) == ["Singapore"]


def test_quotable_spans_skip_questions_and_references_and_trim_bullets(library: Library) -> None:
    hits = _hits(library, "What did the pilot projects learn about engaging employers?")
    employers = next(i for i, h in enumerate(hits) if h.chunk_id == "employers-0")
    text = hits[employers].text
    quoted = [text[s.start : s.end] for s in quotable_spans(hits) if s.hit == employers]
    assert quoted == [
        "Engaging employers early is crucial for labour mobility projects.",
        "Employers expect project coordinators to show results before they contribute.",
    ]


def test_extractive_answers_carry_offsets_into_the_page_text(library: Library) -> None:
    settings = library.settings
    question = "What do employers expect before they contribute to mobility projects?"
    reply = answer(library, question, settings.answer, settings.retrieval)
    assert not reply.abstained and reply.citations
    for citation in reply.citations:
        (page,) = library.pages(citation.doc_id, EVERYONE)
        assert page.text[citation.start : citation.end] == citation.quote
        assert citation.chunk_id == f"{citation.doc_id}-0"
        assert f"{citation.quote} [{citation.n}]" in reply.answer


def test_members_only_passages_never_reach_an_anonymous_answer(library: Library) -> None:
    question = "How do members exchange confidential referrals under the Zanzibar protocol?"
    settings = library.settings
    anonymous = answer(library, question, settings.answer, settings.retrieval, access=EVERYONE)
    member = answer(library, question, settings.answer, settings.retrieval, access=MEMBERS)
    assert anonymous.abstained and all(r.doc_id != "secret" for r in anonymous.see_also)
    assert not member.abstained and member.citations[0].doc_id == "secret"


class FirstPassage:
    """Another composer: the first passage's first sentence, as a language model's would be
    checked: it must still be a verbatim span with offsets."""

    def compose(self, question: str, hits: Sequence[Hit]) -> Composition:
        end = hits[0].text.index(".") + 1
        citation = cite(1, hits[0], 0, end)
        return Composition(text=f"{citation.quote} [1]", citations=(citation,))

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[Composition]:
        yield self.compose(question, hits)


def test_a_composer_plugs_in_through_the_protocol(library: Library) -> None:
    settings = library.settings
    question = "How long does recognition of qualifications take for nurses?"
    reply = answer(library, question, settings.answer, settings.retrieval, composer=FirstPassage())
    assert reply.answer.endswith("[1]") and len(reply.citations) == 1
    extractive = ExtractiveComposer(library.embed_query, library.embed_sentences, settings.answer)
    assert extractive.compose(question, _hits(library, question)).citations[0].quote == (
        "Recognition of qualifications takes about six months."
    )


def test_evidence_is_zero_without_passages() -> None:
    assert evidence("anything", []) == Evidence(similarity=0.0, coverage=0.0)


def test_evidence_counts_only_in_passages_that_name_the_rare_name(library: Library) -> None:
    # The nursing passage answers "how long does recognition take" but never says Zanzibar;
    # the one passage that says Zanzibar is about referrals. Neither answers the question.
    question = "How long does recognition of nursing qualifications take in Zanzibar?"
    settings = library.settings
    hits = retrieve(library, question, settings.answer, settings.retrieval, access=MEMBERS)
    assert {h.chunk_id for h in hits[:3]} >= {"nursing-0", "secret-0"}
    # One passage in three says Zanzibar (idf log(4/2)): rare enough in a library this small.
    rare = settings.answer.model_copy(update={"rare_name_idf": 0.3})
    verdict = assess(library, question, hits, rare, MEMBERS)
    assert verdict.missing_names == () and not verdict.answerable
    without_the_name = question.replace(" in Zanzibar", "")
    reply = answer(library, without_the_name, settings.answer, settings.retrieval, access=MEMBERS)
    assert not reply.abstained and reply.citations[0].doc_id == "nursing"


def test_a_superseded_document_gives_way_to_the_newer_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    library = Library(make_settings(tmp_path_factory.mktemp("superseded")))
    texts = {
        "guide-2023": "Seasonal work permits last six months and cost 80 euros to apply for.",
        "guide-2025": "Seasonal work permits last nine months and cost 100 euros to apply for.",
    }
    for doc_id, text in texts.items():
        doc = Document(
            doc_id=doc_id,
            title="Seasonal work permit guide",
            source=f"/lib/{doc_id}.md",
            superseded_by="guide-2025.md" if doc_id == "guide-2023" else None,
        )
        chunk = Chunk(chunk_id=f"{doc_id}-0", doc_id=doc_id, text=text, start=0, end=len(text))
        library.add_document(ParsedDocument(document=doc, pages=(Page(text=text),)), [chunk])
    settings = library.settings
    hits = retrieve(
        library, "How long do seasonal work permits last?", settings.answer, settings.retrieval
    )
    assert [h.citation.doc_id for h in hits] == ["guide-2025", "guide-2023"]
    assert hits[1].citation.superseded_by == "guide-2025" and hits[0].citation.superseded_by is None
    reply = answer(
        library, "How long do seasonal work permits last?", settings.answer, settings.retrieval
    )
    assert reply.citations[0].doc_id == "guide-2025"


def test_sentence_vectors_are_kept_at_ingest_and_answers_read_them(
    library: Library, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every quotable sentence was embedded when its document went in; an answer then finds
    all of its candidates kept (none added), and quotes what a library without kept vectors
    quotes."""
    kept = library._sentence_vectors
    sentences = [text[a:b] for _, text in PAGES.values() for a, b in quotable_sentences(text)]
    assert len(kept.get(sentences)) == len(set(sentences)) >= 4
    before = kept.count()
    with_kept = answer(library, "What do employers expect before they contribute?",
                       library.settings.answer, library.settings.retrieval)  # fmt: skip
    assert kept.count() == before and not with_kept.abstained

    settings = library.settings.model_copy(
        update={
            "answer": library.settings.answer.model_copy(
                update={"sentence_vectors_at_ingest": False}
            )
        }  # fmt: skip
    )
    fresh = Library(settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("fresh")}))
    for doc_id, (title, text) in PAGES.items():
        chunk = Chunk(chunk_id=f"{doc_id}-0", doc_id=doc_id, text=text, start=0, end=len(text))
        fresh.add_document(_document(doc_id, title, text), [chunk])
    assert fresh._sentence_vectors.count() == 0
    computed = answer(fresh, "What do employers expect before they contribute?",
                      settings.answer, settings.retrieval)  # fmt: skip
    assert [c.quote for c in computed.citations] == [c.quote for c in with_kept.citations]
    assert fresh._sentence_vectors.count() > 0  # kept for the next answer


NETWORK = (
    "The Practitioners' Network connects the members of national authorities who work on "
    "labour mobility. Members of the network exchange practice on labour mobility "
    "partnerships. It brings together public employment services, employers and social "
    "partners. Today 220 practitioners and members take part, from national authorities and "
    "the private sector. Its annual conference in Brussels discussed skills partnerships."
)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Library:
    library = Library(make_settings(tmp_path_factory.mktemp("network")))
    doc = Document(doc_id="network", title="About the network", source="/lib/network.md")
    chunk = Chunk(chunk_id="network-0", doc_id="network", text=NETWORK, start=0, end=len(NETWORK))
    library.add_document(ParsedDocument(document=doc, pages=(Page(text=NETWORK),)), [chunk])
    return library


def test_a_how_many_answer_quotes_the_count_first(network: Library) -> None:
    # The opening sentence is closer in meaning; the count is what was asked.
    settings = network.settings
    question = "How many practitioners does the Practitioners' Network connect?"
    reply = answer(network, question, settings.answer, settings.retrieval)
    assert not reply.abstained
    assert "220 practitioners" in reply.citations[0].quote


def test_a_question_for_a_count_no_passage_has_abstains(network: Library) -> None:
    settings = network.settings
    question = "How many participants attended the network's annual conference in Brussels?"
    reply = answer(network, question, settings.answer, settings.retrieval)
    assert reply.abstained
    assert reply.see_also[0].doc_id == "network"  # the closest document is still shown


@pytest.mark.parametrize(
    "question",
    [
        "Wie lange dauert die Anerkennung ausländischer Abschlüsse für Krankenpfleger?",
        "Combien de temps dure la reconnaissance des diplômes des infirmières ?",
    ],
)
def test_a_question_in_german_or_french_points_to_the_english_document(
    library: Library, question: str
) -> None:
    settings = library.settings
    reply = answer(library, question, settings.answer, settings.retrieval)
    assert reply.abstained and reply.notice and "English" in reply.notice
    assert reply.see_also[0].doc_id == "nursing"
