"""Read endpoints: health, search, ask, documents and their files. Each parses its request,
calls the core, and returns a contract shape (ui/contracts.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse

from kb.answer import answer_stream
from kb.errors import DocumentNotFound
from kb.search import search as search_library
from kb.types import MEMBERS, Answer, DocType, Page
from ui.api.deps import (
    ERRORS,
    AccessDep,
    CallerDep,
    ComposerDep,
    KeysDep,
    LibraryDep,
    LinksDep,
    SettingsDep,
)
from ui.contracts import (
    AskRequest,
    AskResponse,
    DocumentList,
    DocumentOut,
    Health,
    InvalidRequest,
    SearchRequest,
    SearchResponse,
    Whoami,
    ask_response,
    filters_from,
    search_response,
)
from ui.exports import MEDIA_TYPES, REFERENCE_FORMATS, csl_json, download, references
from ui.links import Links
from ui.viewer import CSP as VIEWER_CSP
from ui.viewer import ViewRequest
from ui.viewer import render as render_view

router = APIRouter(prefix="/api", responses=ERRORS)


@router.get("/health", response_model=Health)
def health(library: LibraryDep, access: AccessDep) -> Health:
    """Counts of what the caller may see: members-only totals are not for anonymous eyes."""
    return Health(
        status="ok",
        documents=len(library.document_map(access)),
        chunks=library.chunk_count(access),
        embedder=library.embedder.name,
        worker=os.getpid(),
        index_version=library.index_version(),
    )


@router.post("/search", response_model=SearchResponse)
def search(
    body: SearchRequest,
    library: LibraryDep,
    settings: SettingsDep,
    access: AccessDep,
    links: LinksDep,
) -> SearchResponse:
    hits = search_library(library, body.query, settings.retrieval, body.k, body.filters, access)
    return search_response(body.query, hits, links)


_EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"description": "With `stream`: the answer's events."}}}
}


@router.post("/ask", response_model=AskResponse, responses=_EVENT_STREAM)
def ask(
    body: AskRequest,
    library: LibraryDep,
    settings: SettingsDep,
    access: AccessDep,
    links: LinksDep,
    composer: ComposerDep,
) -> AskResponse | StreamingResponse:
    answers = answer_stream(
        library,
        body.question,
        settings.answer,
        settings.retrieval,
        body.filters,
        access,
        passages=body.k,
        composer=composer,
    )
    # The first answer comes before any byte is sent: a failing store is still a 503.
    first = next(answers)
    if not body.stream:
        *_, final = itertools.chain([first], answers)
        return ask_response(final, links)
    return StreamingResponse(_ask_events(first, answers, links), media_type="text/event-stream")


def _ask_events(first: Answer, rest: Iterator[Answer], links: Links) -> Iterator[str]:
    """Server-sent events: `delta` with each new piece of the text, then `answer` with the
    whole response (citations, composer, notice)."""
    written, final = "", first
    for current in itertools.chain([first], rest):
        final = current
        if current.answer.startswith(written) and len(current.answer) > len(written):
            yield _event("delta", {"text": current.answer[len(written) :]})
            written = current.answer
    yield _event("answer", ask_response(final, links).model_dump(mode="json"))


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


_REFERENCES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPES[f][0].split(";")[0]: {} for f in REFERENCE_FORMATS}}
}


@router.get("/documents", response_model=DocumentList, responses=_REFERENCES)
def documents(
    library: LibraryDep,
    access: AccessDep,
    links: LinksDep,
    doc_type: Annotated[list[DocType] | None, Query()] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    language: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    format: Annotated[
        Literal["json", "csl-json", "ris", "bibtex"],
        Query(description="json: this listing; or its page as references for a manager."),
    ] = "json",
) -> DocumentList | Response:
    # A backwards date range is a 422 (InvalidRequest) like any other bad field.
    filters = filters_from(doc_type or (), date_from, date_to, language or ())
    docs = library.documents(access, filters)
    page = docs[offset : offset + limit]
    if format != "json":
        body = references(format, csl_json(page, links))
        content, media, headers = download(body, format, "library")
        return Response(content, media_type=media, headers=headers)
    return DocumentList(documents=[DocumentOut.of(d) for d in page], total=len(docs))


@router.post("/search/references", response_class=Response, responses=_REFERENCES)
def search_references(
    body: SearchRequest,
    library: LibraryDep,
    settings: SettingsDep,
    access: AccessDep,
    links: LinksDep,
    format: Annotated[Literal["csl-json", "ris", "bibtex"], Query()] = "csl-json",
) -> Response:
    """The documents a search finds, best first, as references for a reference manager."""
    hits = search_library(library, body.query, settings.retrieval, body.k, body.filters, access)
    documents = library.document_map(access)
    found = list(dict.fromkeys(h.citation.doc_id for h in hits))
    items = csl_json([documents[d] for d in found if d in documents], links)
    content, media, headers = download(references(format, items), format, body.query)
    return Response(content, media_type=media, headers=headers)


@router.get("/documents/{doc_id}", response_model=DocumentOut)
def document(doc_id: str, library: LibraryDep, access: AccessDep) -> DocumentOut:
    return DocumentOut.of(library.document(doc_id, access))


@router.get(
    "/documents/{doc_id}/file",
    response_class=FileResponse,
    responses={200: {"description": "The original file.", "content": {"application/pdf": {}}}},
)
def document_file(
    doc_id: str,
    library: LibraryDep,
    access: AccessDep,
    keys: KeysDep,
    token: Annotated[str | None, Query(max_length=100, description="A signed link token.")] = None,
) -> FileResponse:
    if token and keys.check_link(doc_id, token):
        access = MEMBERS  # a link signed for a reader who may see this document
    doc = library.document(doc_id, access)
    # Only a path recorded at ingest is ever opened; nothing from the request reaches the disk.
    path = Path(doc.source)
    if not path.is_file():
        raise DocumentNotFound(doc_id)
    media_type = doc.content_type + (
        "; charset=utf-8" if doc.content_type.startswith("text/") else ""
    )
    # A stored web page must not run scripts on this origin (the chat and the API live here).
    headers = {"Content-Security-Policy": "sandbox"} if doc.content_type == "text/html" else None
    return FileResponse(
        path,
        media_type=media_type,
        filename=path.name,
        content_disposition_type="inline",
        headers=headers,
    )


_HTML: dict[str, Any] = {"text/html": {}}


@router.get(
    "/documents/{doc_id}/view",
    response_class=Response,  # errors stay documented as JSON; the page is text/html
    responses={
        200: {"description": "The page, the quote highlighted.", "content": {"text/html": {}}}
    },
)
def document_view(
    doc_id: str,
    library: LibraryDep,
    access: AccessDep,
    keys: KeysDep,
    page: Annotated[int | None, Query(ge=1, le=100_000, description="1-based page.")] = None,
    start: Annotated[int | None, Query(ge=0, le=10_000_000, description="Quote start.")] = None,
    end: Annotated[int | None, Query(ge=0, le=10_000_000, description="Quote end.")] = None,
    token: Annotated[str | None, Query(max_length=100, description="A signed link token.")] = None,
) -> HTMLResponse:
    """The evidence viewer: the cited page with the quote (offsets `start`-`end` in the page's
    cleaned text, as citations give them) highlighted where it stands. Every citation and
    search result links here as `view_url`; members-only documents need a key or a signed
    link, as for the file."""
    signed = bool(token and keys.check_link(doc_id, token))
    doc = library.document(doc_id, MEMBERS if signed else access)
    pages = library.pages(doc_id, MEMBERS if signed else access)
    shown = _page(pages, page)
    if start is not None and end is not None and not 0 <= start <= end <= len(shown.text):
        raise InvalidRequest(
            f"start and end must lie within the page's text (0-{len(shown.text)}), start first."
        )
    links = Links("", (lambda _: token or "") if signed else None)
    view = ViewRequest(doc, shown, start or 0, end or 0, links)
    return HTMLResponse(render_view(view), headers={"Content-Security-Policy": VIEWER_CSP})


def _page(pages: list[Page], number: int | None) -> Page:
    """The page asked for; a document without pages has one, whatever was asked."""
    if not pages:
        raise InvalidRequest("This document has no stored text to show.")
    if number is None or pages[0].number is None:
        return pages[0]
    for candidate in pages:
        if candidate.number == number:
            return candidate
    raise InvalidRequest(f"Page {number} is not in this document (1-{len(pages)}).")


@router.get("/whoami", response_model=Whoami)
def whoami(caller: CallerDep) -> Whoami:
    """The role the request's key gives (anonymous without a key)."""
    return Whoami(role=caller.role, name=caller.name)
