"""The API's request and response models (the contract other tools are written against)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from kb.keys import Role
from kb.types import (
    Access,
    Answer,
    Citation,
    DocType,
    Document,
    Hit,
    Reference,
    SearchFilters,
)

MAX_QUERY_CHARS = 2000
Query_ = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS)
]


class Message(BaseModel):
    detail: str


class Invalid(BaseModel):
    detail: str = Field(description="What is wrong with the request, in one sentence per problem.")
    errors: list[dict[str, Any]] = Field(description="The same problems, structured.")


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_type: list[DocType] | None = Field(None, description="Only these document types.")
    date_from: dt.date | None = Field(None, description="Dated on or after (YYYY-MM-DD).")
    date_to: dt.date | None = Field(None, description="Dated on or before (YYYY-MM-DD).")
    language: list[Annotated[str, StringConstraints(min_length=2, max_length=8)]] | None = None

    @model_validator(mode="after")
    def _ordered_dates(self) -> Filters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def to_search(self) -> SearchFilters:
        return SearchFilters(
            doc_types=tuple(self.doc_type or ()),
            date_from=self.date_from,
            date_to=self.date_to,
            languages=tuple(self.language or ()),
        )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Query_
    k: int | None = Field(None, ge=1, le=50, description="Passages (default: the server's, 8).")
    filters: Filters | None = None


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Query_
    k: int | None = Field(
        None, ge=1, le=50, description="Passages the answer may draw on (default: the server's, 5)."
    )
    filters: Filters | None = None


class SearchResult(BaseModel):
    text: str
    score: float
    citation: Reference


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]


class AskResponse(BaseModel):
    answer: str
    citations: list[Citation]
    abstained: bool
    see_also: list[Reference] = Field(description="Closest documents, when the answer abstains.")


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
    documents: int
    chunks: int
    embedder: str


class DocumentChanges(BaseModel):
    """What staff may change about a document without re-embedding it."""

    model_config = ConfigDict(extra="forbid")

    access: Access | None = None
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
        | None
    ) = None
    doc_type: DocType | None = None
    date: dt.date | None = None


class Whoami(BaseModel):
    role: Role
    name: str | None


def search_response(query: str, hits: list[Hit]) -> SearchResponse:
    """The search contract, as the API and `kb search --json` print it."""
    return SearchResponse(
        query=query,
        results=[SearchResult(text=h.text, score=h.score, citation=h.citation) for h in hits],
    )


def ask_response(answer: Answer) -> AskResponse:
    """The ask contract, as the API and `kb ask --json` print it."""
    return AskResponse(
        answer=answer.answer,
        citations=list(answer.citations),
        abstained=answer.abstained,
        see_also=list(answer.see_also),
    )
