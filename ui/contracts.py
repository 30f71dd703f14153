"""The JSON shapes every front-end shares: requests the API accepts and responses the API,
`kb ... --json` and later front-ends (MCP, OpenAI-compatible chat) return.

Other tools are written against these: change them only by adding fields. Importable
without FastAPI, Gradio or llama-index (the CLI imports it on every call).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from kb.errors import KBError
from kb.keys import Role
from kb.text import best_sentence
from kb.types import Access, Answer, Citation, DocType, Document, Hit, Reference, SearchFilters
from ui.links import Links

RequestT = TypeVar("RequestT", bound=BaseModel)
MAX_QUERY_CHARS = 2000
MAX_K = 50
Query = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS)
]


# No control characters: a title goes into catalogue.csv and every page that lists it.
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=PLAIN_TEXT),
]


class _Request(BaseModel):
    # A misspelled field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    detail: str


class Invalid(BaseModel):
    detail: str = Field(description="What is wrong with the request, in one sentence per problem.")
    errors: list[dict[str, Any]] = Field(description="The same problems, structured.")


class SearchRequest(_Request):
    query: Query
    k: int | None = Field(None, ge=1, le=MAX_K, description="Passages (default: the server's, 8).")
    filters: SearchFilters | None = None


class AskRequest(_Request):
    question: Query
    k: int | None = Field(
        None,
        ge=1,
        le=MAX_K,
        description="Passages the answer may draw on (default: the server's, 5).",
    )
    filters: SearchFilters | None = None
    stream: bool = Field(
        False,
        description="Answer as server-sent events: `delta` events carry the text as each "
        "checked sentence is written, the last event (`answer`) the whole response.",
    )


class ReferenceOut(BaseModel):
    """Where a passage comes from, with a link that opens the source at its page."""

    doc_id: str
    title: str
    doc_type: DocType
    date: dt.date | None
    page: int | None = Field(description="1-based physical page (what #page=N opens).")
    page_label: str | None = Field(None, description="The page number printed on the page.")
    source: str = Field(description="The file's name.")
    url: str = Field(description="The library's copy of the source, at the page.")
    superseded_by: str | None = Field(
        None, description="The id of the newer document that replaces this one, if any."
    )
    view_url: str = Field(
        "", description="The evidence viewer: the page (and the quote, for a citation) shown."
    )

    @classmethod
    def of(cls, ref: Reference, links: Links) -> ReferenceOut:
        fields = ref.model_dump(include=set(Reference.model_fields))
        return cls(
            **fields,
            url=links.file(ref.doc_id, ref.page),
            view_url=links.view(ref.doc_id, ref.page),
        )


class CitationOut(ReferenceOut):
    n: int = Field(description="The marker [n] used in the answer text.")
    quote: str = Field(description="Exact text from the source page.")
    chunk_id: str = Field(description="The passage the quote was taken from.")
    start: int = Field(description="Offset of the quote in the page text.")
    end: int = Field(description="End offset of the quote in the page text.")
    context: str | None = Field(
        None,
        description="The sentence before a quote that starts mid-thought, to read it by; "
        "never part of the quote.",
    )

    @classmethod
    def of_citation(cls, citation: Citation, links: Links) -> CitationOut:
        c = citation
        return cls(
            **c.model_dump(),
            url=links.file(c.doc_id, c.page),
            view_url=links.view(c.doc_id, c.page, c.start, c.end),
        )


class SearchResult(BaseModel):
    text: str
    score: float = Field(description="Fused relevance, comparable within one search only.")
    chunk_id: str
    start: int = Field(description="Offset of the passage in the page text.")
    end: int = Field(description="End offset of the passage in the page text.")
    section: str | None = Field(None, description="The heading the passage stands under.")
    citation: ReferenceOut
    view_url: str = Field(
        "", description="The evidence viewer: the passage highlighted on its page."
    )
    similarity: float | None = Field(
        None,
        description="Closeness in meaning to the query (cosine, -1 to 1): unlike `score`, "
        "comparable across searches.",
    )
    match: str | None = Field(
        None, description="The passage's sentence that shares the most words with the query."
    )


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]


class AskResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    abstained: bool
    see_also: list[ReferenceOut] = Field(description="Closest documents, when the answer abstains.")
    composer: str = Field(
        "extractive",
        description="Who wrote the answer: extractive (the passages' own sentences) or "
        "generative (a language model; every quote checked against its passage).",
    )
    notice: str | None = Field(
        None, description="What the reader should know about how the answer was written."
    )


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    doc_type: DocType
    date: dt.date | None
    language: str
    pages: int
    chunks: int
    source: str
    url: str | None = Field(description="The original public address, when known.")

    @classmethod
    def of(cls, doc: Document) -> DocumentOut:
        return cls(
            **doc.model_dump(include=set(cls.model_fields) - {"source"}),
            source=Path(doc.source).name,
        )


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int


class Health(BaseModel):
    status: str
    documents: int = Field(description="Documents the caller may see.")
    chunks: int = Field(description="Passages the caller may see.")
    embedder: str
    worker: int = Field(description="The process that answered (one of the server's workers).")
    index_version: int = Field(description="The search index's change counter, as it saw it.")


class DocumentChanges(_Request):
    """What staff may change about a document without re-embedding it."""

    access: Access | None = None
    title: Title | None = None
    doc_type: DocType | None = None
    date: dt.date | None = None


class Whoami(BaseModel):
    role: Role
    name: str | None


def search_response(query: str, hits: list[Hit], links: Links) -> SearchResponse:
    """The search contract, as the API and `kb search --json` print it."""
    return SearchResponse(
        query=query,
        results=[
            SearchResult(
                text=h.text,
                score=h.score,
                chunk_id=h.chunk_id,
                start=h.start,
                end=h.end,
                section=h.section,
                citation=ReferenceOut.of(h.citation, links),
                view_url=links.view(h.citation.doc_id, h.citation.page, h.start, h.end),
                similarity=h.similarity,
                match=_match(query, h.text),
            )
            for h in hits
        ],
    )


def _match(query: str, text: str) -> str | None:
    span = best_sentence(query, text)
    return text[span[0] : span[1]].strip() if span else None


def ask_response(answer: Answer, links: Links) -> AskResponse:
    """The ask contract, as the API and `kb ask --json` print it."""
    return AskResponse(
        answer=answer.answer,
        citations=[CitationOut.of_citation(c, links) for c in answer.citations],
        abstained=answer.abstained,
        see_also=[ReferenceOut.of(r, links) for r in answer.see_also],
        composer=answer.composer,
        notice=answer.notice,
    )


def reference_label(ref: Reference, with_page: bool = True) -> str:
    """'policy brief · 2020-11-04 · p. 3 (printed 1)': how every front-end describes where a
    passage stands."""
    parts = [ref.doc_type.value.replace("_", " ")]
    if ref.date:
        parts.append(ref.date.isoformat())
    if with_page and ref.page:
        printed = (
            f" (printed {ref.page_label})"
            if ref.page_label and ref.page_label != str(ref.page)
            else ""
        )
        parts.append(f"p. {ref.page}{printed}")
    return " · ".join(parts)


class InvalidRequest(KBError):
    """A request a front-end could not parse; the message says what to fix."""


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable sentence per problem: 'filters.date_to: ...; k: ...'."""
    problems = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
    return "; ".join(problems)


def parse(model: type[RequestT], **fields: Any) -> RequestT:
    """A request model from a front-end's own input, or InvalidRequest saying what is wrong."""
    try:
        return model.model_validate(fields)
    except ValidationError as e:
        raise InvalidRequest(describe_errors(e.errors(include_url=False))) from None


def filters_from(
    doc_types: Sequence[str] = (),
    date_from: str | dt.date | None = None,
    date_to: str | dt.date | None = None,
    languages: Sequence[str] = (),
) -> SearchFilters:
    """Filters from a form or command line (empty strings mean no filter)."""
    fields = {
        "doc_type": list(doc_types or ()),
        "date_from": date_from or None,
        "date_to": date_to or None,
        "language": list(languages or ()),
    }
    return parse(SearchFilters, **fields)


# -- briefs --------------------------------------------------------------------------------

Note = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]


class BriefCreate(_Request):
    title: Title


class ExcerptCreate(_Request):
    """A passage span as citations give it (`chunk_id`, `start`, `end`: offsets in the page
    text), or a quote on a page (`doc_id`, `page`, `quote`: found verbatim or refused)."""

    chunk_id: str | None = Field(None, max_length=100)
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=1)
    doc_id: str | None = Field(None, max_length=200)
    page: int | None = Field(None, ge=1)
    quote: str | None = Field(None, min_length=1, max_length=MAX_QUERY_CHARS * 5)
    note: Note = ""

    @model_validator(mode="after")
    def _one_shape(self) -> ExcerptCreate:
        span = self.chunk_id is not None and self.start is not None and self.end is not None
        quoted = self.doc_id is not None and self.quote is not None
        if span == quoted:
            raise ValueError("give either chunk_id, start and end, or doc_id, page and quote")
        if span and self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class ExcerptChange(_Request):
    note: Note | None = None
    position: int | None = Field(None, ge=1, description="1-based; the others shift.")


class ExcerptOut(BaseModel):
    excerpt_id: str
    position: int
    quote: str
    note: str
    doc_id: str
    title: str | None = Field(description="None when the document is no longer available.")
    doc_type: DocType | None
    date: dt.date | None = Field(description="The document's date: the excerpt is as of then.")
    page: int | None
    page_label: str | None
    chunk_id: str
    start: int
    end: int
    status: str = Field(description="ok, moved (re-anchored), gone or unavailable.")
    reason: str = ""
    url: str | None


class BriefOut(BaseModel):
    brief_id: str
    title: str
    created: dt.datetime
    updated: dt.datetime
    excerpts: list[ExcerptOut]


class BriefSummary(BaseModel):
    brief_id: str
    title: str
    excerpts: int
    updated: dt.datetime


class BriefList(BaseModel):
    briefs: list[BriefSummary]
