"""Our own small types passed between stages: Document -> Page -> Chunk -> Hit -> Answer.

chromadb and llama-index objects never leave kb/store.py; everything else speaks these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator


class DocType(StrEnum):
    policy_brief = "policy_brief"
    conference_report = "conference_report"
    emn_inform = "emn_inform"
    study = "study"
    news = "news"
    page = "page"
    legal_text = "legal_text"
    guidance = "guidance"
    other = "other"


class Access(StrEnum):
    public = "public"
    members = "members"


EVERYONE = (Access.public,)
"""What an anonymous caller may read."""
MEMBERS = (Access.public, Access.members)
"""What members, staff and admins may read."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Heading(_Frozen):
    offset: int = Field(description="Character offset of the heading in its page text.")
    text: str


class Page(_Frozen):
    """One page of cleaned text. Files without pages (HTML, text) are one page numbered None."""

    number: int | None = Field(
        None, description="1-based physical page number (what #page=N opens)."
    )
    label: str | None = Field(None, description="Printed page label where the PDF defines one.")
    text: str
    headings: tuple[Heading, ...] = ()


class Document(_Frozen):
    """A document's catalogue metadata, as stored and listed."""

    doc_id: str
    title: str
    doc_type: DocType = DocType.other
    date: dt.date | None = None
    language: str = "en"
    access: Access = Access.public
    source: str = Field(description="The file the document came from.")
    url: str | None = Field(None, description="The original public address, when known.")
    publisher: str | None = Field(
        None, description="The issuing body (MPF/ICMPD, EMN/OECD, European Union...)."
    )
    authors: str | None = Field(None, description="Authors, separated by semicolons.")
    series: str | None = Field(None, description="The series it appears in (EMN Inform...).")
    number: str | None = Field(None, description="Its number in the series.")
    superseded_by: str | None = Field(
        None, description="The newer document (its id or file path) that replaces this one."
    )
    content_type: str = "text/plain"
    file_hash: str = Field("", description="sha256 of the source file, for change detection.")
    pages: int = Field(0, description="Physical pages (0 for files without pages).")
    chunks: int = 0


class ParsedDocument(_Frozen):
    """A document and its cleaned pages, before chunking."""

    document: Document
    pages: tuple[Page, ...]


class Chunk(_Frozen):
    chunk_id: str = Field(description="Content hash: unchanged text keeps its id.")
    doc_id: str
    text: str = Field(description="Exact substring of the page text.")
    page: int | None = None
    page_label: str | None = None
    start: int = Field(description="Offset of the text in the cleaned page text.")
    end: int
    section: str | None = None
    aliases: tuple[str, ...] = Field(
        (), description="Long forms of acronyms the text uses, defined elsewhere in its file."
    )


@dataclass(frozen=True)
class IndexedChunk:
    """A stored chunk with the catalogue fields search filters and cites by."""

    chunk: Chunk
    access: Access
    doc_type: DocType
    date: dt.date | None
    language: str
    title: str


class SearchFilters(_Frozen):
    """Catalogue filters for search and answers. Each front-end parses its own input into
    this one type; the rules (known types, date order) live here and nowhere else."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    doc_types: tuple[DocType, ...] = Field(
        (),
        validation_alias=AliasChoices("doc_type", "doc_types"),
        serialization_alias="doc_type",
        description="Only these document types.",
    )
    date_from: dt.date | None = Field(None, description="Dated on or after (YYYY-MM-DD).")
    date_to: dt.date | None = Field(None, description="Dated on or before (YYYY-MM-DD).")
    languages: tuple[str, ...] = Field(
        (),
        validation_alias=AliasChoices("language", "languages"),
        serialization_alias="language",
        description="Only these languages (ISO 639-1 codes such as en, de, fr).",
    )

    @model_validator(mode="before")
    @classmethod
    def _none_is_empty(cls, values: object) -> object:
        """JSON clients send `null` for "no filter"."""
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if v is not None}
        return values

    @model_validator(mode="after")
    def _ordered_dates(self) -> SearchFilters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        for language in self.languages:
            if not 2 <= len(language) <= 8:
                raise ValueError(f"'{language[:20]}' is not a language code such as en or de")
        return self

    @property
    def empty(self) -> bool:
        return not (self.doc_types or self.date_from or self.date_to or self.languages)

    def keeps(self, doc: Document) -> bool:
        """Whether a document passes (the rule of the store's `filter_clause` and the
        index's `mask`: an undated document never matches a date range)."""
        if self.doc_types and doc.doc_type not in self.doc_types:
            return False
        if self.languages and doc.language not in self.languages:
            return False
        if (self.date_from or self.date_to) and doc.date is None:
            return False
        if self.date_from and doc.date and doc.date < self.date_from:
            return False
        return not (self.date_to and doc.date and doc.date > self.date_to)


class Reference(_Frozen):
    """Where a passage comes from: enough to find it. Front-ends turn it into a link."""

    doc_id: str
    title: str
    doc_type: DocType
    date: dt.date | None
    page: int | None = Field(None, description="1-based physical page (None without pages).")
    page_label: str | None = Field(None, description="The page number printed on the page.")
    source: str = Field(description="The file's name (its location stays on the server).")
    superseded_by: str | None = Field(
        None, description="The id of the newer document that replaces this one, if any."
    )


class Citation(Reference):
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


class Hit(_Frozen):
    text: str
    score: float
    citation: Reference
    chunk_id: str
    start: int = Field(0, description="Offset of the passage in the page text.")
    end: int = Field(0, description="End offset of the passage in the page text.")
    section: str | None = None
    aliases: tuple[str, ...] = Field(
        (), description="Long forms of acronyms the passage uses; searched, never quoted."
    )
    similarity: float | None = Field(
        None, description="Cosine similarity to the query, if dense-retrieved."
    )


class Answer(_Frozen):
    question: str
    answer: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    see_also: tuple[Reference, ...] = ()
    composer: str = Field(
        "extractive",
        description="Who wrote the answer: extractive (quoted sentences) or "
        "generative (a language model, every quote checked).",
    )
    notice: str | None = Field(
        None, description="What the reader should know about how this answer was written."
    )
