"""The shared JSON contracts and links: one parser for filters, one link builder."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from kb.types import Citation, DocType, Hit, Reference, SearchFilters
from ui.contracts import (
    AskRequest,
    InvalidRequest,
    SearchRequest,
    filters_from,
    parse,
    reference_label,
    search_response,
)
from ui.links import Links

REF = Reference(
    doc_id="brief",
    title="Pilot projects",
    doc_type=DocType.policy_brief,
    date=dt.date(2020, 11, 4),
    page=3,
    page_label="1",
    source="brief.pdf",
)


def test_links_open_the_library_copy_at_the_page() -> None:
    assert (
        Links("http://h:8000/").file("doc-1", 5) == "http://h:8000/api/documents/doc-1/file#page=5"
    )
    assert Links("http://h:8000").file("doc-1") == "http://h:8000/api/documents/doc-1/file"
    signed = Links("", sign=lambda doc_id: f"t-{doc_id}")
    assert signed.file("a b/c", 2) == "/api/documents/a%20b%2Fc/file?token=t-a b/c#page=2"


def test_filters_parse_the_api_names_and_validate_themselves() -> None:
    filters = SearchFilters.model_validate(
        {"doc_type": ["news"], "date_from": "2024-01-01", "date_to": None, "language": ["de"]}
    )
    assert filters.doc_types == (DocType.news,) and filters.languages == ("de",)
    assert filters.date_to is None and not filters.empty
    with pytest.raises(ValidationError, match="date_from must not be after date_to"):
        SearchFilters(date_from=dt.date(2025, 1, 1), date_to=dt.date(2024, 1, 1))
    with pytest.raises(ValidationError):
        SearchFilters.model_validate({"doc_type": ["memo"]})
    with pytest.raises(ValidationError, match="Extra inputs"):
        SearchFilters.model_validate({"doc_typo": ["news"]})
    assert SearchFilters().empty


def test_front_end_input_parses_into_the_same_filters() -> None:
    assert filters_from(["news"], "2024-01-01", "", []) == SearchFilters(
        doc_types=(DocType.news,), date_from=dt.date(2024, 1, 1)
    )
    with pytest.raises(InvalidRequest, match="date_from: Input should be a valid date"):
        filters_from([], "yesterday")


def test_requests_have_one_set_of_limits() -> None:
    assert parse(SearchRequest, query="  labour  ", k=3).query == "labour"
    with pytest.raises(InvalidRequest, match="query: String should have at least 1 character"):
        parse(SearchRequest, query="   ")
    with pytest.raises(InvalidRequest, match="k: Input should be less than or equal to 50"):
        parse(AskRequest, question="why?", k=51)
    with pytest.raises(InvalidRequest, match="at most 2000 characters"):
        parse(AskRequest, question="x" * 2001)


def test_search_results_carry_chunk_ids_offsets_and_links() -> None:
    hit = Hit(
        text="Employers expect results.", score=0.9, citation=REF, chunk_id="c1", start=10, end=35
    )
    response = search_response("employers", [hit], Links("http://h"))
    result = response.results[0]
    assert (result.chunk_id, result.start, result.end) == ("c1", 10, 35)
    assert result.citation.url == "http://h/api/documents/brief/file#page=3"
    assert result.citation.page_label == "1"


def test_reference_labels_name_the_printed_page_when_it_differs() -> None:
    assert reference_label(REF) == "policy brief · 2020-11-04 · p. 3 (printed 1)"
    assert reference_label(REF, with_page=False) == "policy brief · 2020-11-04"
    citation = Citation(n=1, quote="q", chunk_id="c", start=0, end=1, **REF.model_dump())
    same = citation.model_copy(update={"page_label": "3"})
    assert reference_label(same) == "policy brief · 2020-11-04 · p. 3"
