"""Our own small types passed between stages: Document -> Page -> Chunk -> Hit -> Answer.

chromadb and llama-index objects never leave kb/store.py; everything else speaks these.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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


class SearchFilters(_Frozen):
    doc_types: tuple[DocType, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    languages: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.doc_types or self.date_from or self.date_to or self.languages)


class Reference(_Frozen):
    """Where a passage comes from: enough to find and open it."""

    doc_id: str
    title: str
    doc_type: DocType
    date: dt.date | None
    page: int | None
    source: str
    url: str


class Citation(Reference):
    n: int = Field(description="The marker [n] used in the answer text.")
    quote: str = Field(description="Exact text from the source page.")


class Hit(_Frozen):
    text: str
    score: float
    citation: Reference
    chunk_id: str
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
