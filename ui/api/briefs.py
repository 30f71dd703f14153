"""Briefs: a signed-in caller's collections of excerpts, and their export. Another caller's
brief does not exist (404); every excerpt is checked against the library before it is shown
or exported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from kb.briefs import Brief, BriefStore, Checked, anchor_quote, anchor_span, checked_brief
from kb.keys import Role
from kb.library import Library
from kb.types import Access
from ui.api.deps import ERRORS, CallerDep, LibraryDep, LinksDep, SettingsDep
from ui.contracts import (
    BriefCreate,
    BriefList,
    BriefOut,
    BriefSummary,
    ExcerptChange,
    ExcerptCreate,
    ExcerptOut,
)
from ui.exports import download, export_brief
from ui.links import Links

router = APIRouter(prefix="/api/briefs", responses=ERRORS, tags=["briefs"])


def get_briefs(request: Request) -> BriefStore:
    store: BriefStore = request.app.state.briefs
    return store


@dataclass(frozen=True)
class Owner:
    """Whose briefs these are (the key's name) and what that key may read."""

    name: str
    access: tuple[Access, ...]


def get_owner(caller: CallerDep) -> Owner:
    """Briefs are kept for a key; the chat keeps an anonymous brief for its session."""
    if caller.role is Role.anonymous or not caller.name:
        raise HTTPException(401, "Sign in with an API key to keep briefs.")
    return Owner(caller.name, caller.role.access)


BriefsDep = Annotated[BriefStore, Depends(get_briefs)]
OwnerDep = Annotated[Owner, Depends(get_owner)]


def _out(
    library: Library, brief: Brief, checked: list[Checked], owner: Owner, links: Links
) -> BriefOut:
    docs = library.document_map(owner.access)
    excerpts = []
    for check in checked:
        e, doc = check.excerpt, docs.get(check.excerpt.doc_id)
        visible = check.status in ("ok", "moved")
        excerpts.append(
            ExcerptOut(
                excerpt_id=e.excerpt_id,
                position=e.position,
                quote=e.quote if visible else "",
                note=e.note,
                doc_id=e.doc_id,
                title=doc.title if doc else None,
                doc_type=doc.doc_type if doc else None,
                date=e.doc_date,
                page=e.page,
                page_label=e.page_label,
                chunk_id=e.chunk_id,
                start=e.start,
                end=e.end,
                status=check.status,
                reason=check.reason,
                url=links.file(e.doc_id, e.page) if visible else None,
            )  # fmt: skip
        )
    return BriefOut(
        brief_id=brief.brief_id,
        title=brief.title,
        created=brief.created,
        updated=brief.updated,
        excerpts=excerpts,
    )


def _show(
    library: Library, store: BriefStore, owner: Owner, brief_id: str, links: Links
) -> BriefOut:
    brief, checked = checked_brief(library, store, owner.name, brief_id, owner.access)
    return _out(library, brief, checked, owner, links)  # excerpts come from `checked`


@router.post("", response_model=BriefOut, status_code=201)
def create(
    body: BriefCreate, owner: OwnerDep, store: BriefsDep, library: LibraryDep, links: LinksDep
) -> BriefOut:
    brief = store.create(owner.name, body.title)
    return _out(library, brief, [], owner, links)


@router.get("", response_model=BriefList)
def list_briefs(owner: OwnerDep, store: BriefsDep) -> BriefList:
    return BriefList(
        briefs=[
            BriefSummary(
                brief_id=b.brief_id, title=b.title, excerpts=len(b.excerpts), updated=b.updated
            )
            for b in store.list(owner.name)
        ]
    )


@router.get("/{brief_id}", response_model=BriefOut)
def show(
    brief_id: str, owner: OwnerDep, store: BriefsDep, library: LibraryDep, links: LinksDep
) -> BriefOut:
    return _show(library, store, owner, brief_id, links)


@router.patch("/{brief_id}", response_model=BriefOut)
def rename(
    brief_id: str,
    body: BriefCreate,
    owner: OwnerDep,
    store: BriefsDep,
    library: LibraryDep,
    links: LinksDep,
) -> BriefOut:
    store.rename(owner.name, brief_id, body.title)
    return _show(library, store, owner, brief_id, links)


@router.delete("/{brief_id}", status_code=204, response_class=Response)
def delete(brief_id: str, owner: OwnerDep, store: BriefsDep) -> Response:
    store.delete(owner.name, brief_id)
    return Response(status_code=204)


@router.post("/{brief_id}/excerpts", response_model=BriefOut, status_code=201)
def add_excerpt(
    brief_id: str,
    body: ExcerptCreate,
    owner: OwnerDep,
    store: BriefsDep,
    library: LibraryDep,
    links: LinksDep,
) -> BriefOut:
    """Add a passage span (`chunk_id`, `start`, `end`) or a quote on a page (`doc_id`,
    `page`, `quote`; 422 when it is not verbatim in the stored page text)."""
    store.get(owner.name, brief_id)  # an unknown brief is a 404 before anything else
    access = owner.access
    if body.chunk_id is not None and body.start is not None and body.end is not None:
        anchor = anchor_span(library, body.chunk_id, body.start, body.end, access)
    else:
        anchor = anchor_quote(library, body.doc_id or "", body.page, body.quote or "", access)
    store.add(owner.name, brief_id, anchor, body.note)
    return _show(library, store, owner, brief_id, links)


@router.patch("/{brief_id}/excerpts/{excerpt_id}", response_model=BriefOut)
def change_excerpt(
    brief_id: str,
    excerpt_id: str,
    body: ExcerptChange,
    owner: OwnerDep,
    store: BriefsDep,
    library: LibraryDep,
    links: LinksDep,
) -> BriefOut:
    store.update(owner.name, brief_id, excerpt_id, note=body.note, position=body.position)
    return _show(library, store, owner, brief_id, links)


@router.delete("/{brief_id}/excerpts/{excerpt_id}", status_code=204, response_class=Response)
def remove_excerpt(brief_id: str, excerpt_id: str, owner: OwnerDep, store: BriefsDep) -> Response:
    store.remove(owner.name, brief_id, excerpt_id)
    return Response(status_code=204)


@router.get("/{brief_id}/export", response_class=Response)
def export(
    brief_id: str,
    owner: OwnerDep,
    store: BriefsDep,
    library: LibraryDep,
    links: LinksDep,
    settings: SettingsDep,
    format: Annotated[Literal["md", "docx", "csl-json", "ris", "bibtex"], Query()] = "md",
    style: Annotated[Literal["chicago", "apa"] | None, Query()] = None,
) -> Response:
    """The brief, every excerpt checked first: Markdown or DOCX with a reference list, or its
    references for a reference manager."""
    brief, checked = checked_brief(library, store, owner.name, brief_id, owner.access)
    docs = library.document_map(owner.access)
    body = export_brief(format, brief, checked, docs, links, style or settings.briefs.style)
    content, media, headers = download(body, format, brief.title)
    return Response(content, media_type=media, headers=headers)
