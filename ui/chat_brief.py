"""The chat's brief basket: "+ Brief" on cited sources and found passages, and a Brief tab
to reorder, annotate, remove, rename and download.

Signed in, the brief lives in the brief store under the key's name (the same briefs as the
API's). Anonymous, it lives in the page's session only: the server never keeps it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from kb.briefs import (
    Anchor,
    Brief,
    BriefStore,
    Checked,
    Excerpt,
    anchor_span,
    checked_brief,
    new_id,
    recheck,
)
from kb.errors import BriefNotFound, KBError
from kb.keys import Caller, Role
from kb.library import Library
from kb.settings import Settings
from kb.types import Document, Reference
from ui.contracts import reference_label
from ui.exports import download, export_brief
from ui.links import Links
from ui.markdown import md

State = dict[str, Any]
_SESSION_OWNER = "(this browser session)"


class BriefBasket:
    def __init__(self, library: Library, store: BriefStore, settings: Settings) -> None:
        self._library = library
        self._store = store
        self._settings = settings

    # -- where the brief lives -------------------------------------------------------------

    def _owner(self, caller: Caller) -> str | None:
        return None if caller.role is Role.anonymous or not caller.name else caller.name

    def _existing(self, owner: str, state: State) -> str | None:
        """This session's brief in the store, if it still exists for this owner (it may have
        been deleted through the API, or another key signed in)."""
        brief_id = state.get("brief_id")
        if brief_id is None:
            return None
        try:
            return self._store.get(owner, brief_id).brief_id
        except BriefNotFound:
            return None

    def _brief_id(self, caller: Caller, state: State) -> str:
        """The session's stored brief, created with the first excerpt (never empty ones)."""
        owner = self._owner(caller)
        assert owner is not None
        existing = self._existing(owner, state)
        if existing is not None:
            return existing
        title = state.get("title") or "Brief from the chat"
        brief_id = self._store.create(owner, title).brief_id
        state["brief_id"] = brief_id
        return str(brief_id)

    def load(self, caller: Caller, state: State) -> tuple[Brief, list[Checked]]:
        owner = self._owner(caller)
        access = caller.role.access
        existing = self._existing(owner, state) if owner is not None else None
        if owner is not None and existing is not None:
            return checked_brief(self._library, self._store, owner, existing, access)
        stored = owner is not None  # signed in, nothing added yet: an empty brief, not stored
        excerpts = (
            () if stored else tuple(Excerpt.model_validate(e) for e in state.get("excerpts", []))
        )
        now = dt.datetime.now(dt.UTC)
        brief = Brief(
            brief_id="session", title=state.get("title") or "Brief from the chat",
            owner=_SESSION_OWNER, created=now, updated=now, excerpts=excerpts,
        )  # fmt: skip
        return brief, [recheck(self._library, e, access) for e in excerpts]

    # -- changes ---------------------------------------------------------------------------

    def add(self, caller: Caller, state: State, anchors: list[Anchor]) -> None:
        owner = self._owner(caller)
        if owner is not None:
            brief_id = self._brief_id(caller, state)
            for anchor in anchors:
                self._store.add(owner, brief_id, anchor)
            return
        excerpts = state.setdefault("excerpts", [])
        if len(excerpts) + len(anchors) > self._settings.briefs.max_excerpts:
            raise gr.Error(f"A brief holds at most {self._settings.briefs.max_excerpts} excerpts.")
        for anchor in anchors:
            excerpt = Excerpt(
                **anchor.model_dump(), excerpt_id=new_id(),
                position=len(excerpts) + 1, added=dt.datetime.now(dt.UTC),
            )  # fmt: skip
            excerpts.append(excerpt.model_dump(mode="json"))

    def move(self, caller: Caller, state: State, excerpt_id: str, delta: int) -> None:
        brief, _ = self.load(caller, state)
        current = next((e for e in brief.excerpts if e.excerpt_id == excerpt_id), None)
        if current is None:
            return
        self.update(caller, state, excerpt_id, position=max(1, current.position + delta))

    def update(
        self, caller: Caller, state: State, excerpt_id: str, note: str | None = None,
        position: int | None = None,
    ) -> None:  # fmt: skip
        owner = self._owner(caller)
        if owner is not None:
            self._store.update(owner, self._brief_id(caller, state), excerpt_id, note, position)
            return
        excerpts = state.get("excerpts", [])
        index = next((i for i, e in enumerate(excerpts) if e["excerpt_id"] == excerpt_id), None)
        if index is None:
            return
        item = excerpts.pop(index)
        if note is not None:
            item["note"] = note
        target = index if position is None else min(max(position, 1), len(excerpts) + 1) - 1
        excerpts.insert(target, item)
        for i, e in enumerate(excerpts, start=1):
            e["position"] = i

    def remove(self, caller: Caller, state: State, excerpt_id: str) -> None:
        owner = self._owner(caller)
        if owner is not None:
            self._store.remove(owner, self._brief_id(caller, state), excerpt_id)
            return
        kept = [e for e in state.get("excerpts", []) if e["excerpt_id"] != excerpt_id]
        for i, e in enumerate(kept, start=1):
            e["position"] = i
        state["excerpts"] = kept

    def rename(self, caller: Caller, state: State, title: str) -> None:
        state["title"] = title
        owner = self._owner(caller)
        if owner is not None:
            self._store.rename(owner, self._brief_id(caller, state), title)

    def export(self, caller: Caller, state: State, fmt: str, links: Links) -> str:
        brief, checked = self.load(caller, state)
        docs = self._library.document_map(caller.role.access)
        body = export_brief(fmt, brief, checked, docs, links, self._settings.briefs.style)
        content, _, headers = download(body, fmt, brief.title)
        name = headers["Content-Disposition"].split('filename="')[1].split('"')[0]
        folder = Path(tempfile.mkdtemp(prefix="kb-brief-"))
        (folder / name).write_bytes(content)
        return str(folder / name)


def brief_view(brief: Brief, checked: list[Checked], library: Library, caller: Caller) -> str:
    """The brief as the Brief tab shows it: each excerpt checked, with where it stands."""
    if not checked:
        return "*Nothing yet: use “+ Brief” under an answer's sources or in Find sources.*"
    docs = library.document_map(caller.role.access)
    lines = []
    for check in checked:
        e, doc = check.excerpt, docs.get(check.excerpt.doc_id)
        if check.status not in ("ok", "moved") or doc is None:
            lines.append(f"{e.position}. *Unavailable: {md(check.reason)}*")
            continue
        where = md(f"{doc.title} · {reference_label(_reference(doc, e))}")
        lines.append(f"{e.position}. “{md(e.quote)}”  \n   — {where}")
        if e.note:
            lines.append(f"   \n   *Note:* {md(e.note)}")
    return "\n".join(lines)


def _reference(doc: Document, excerpt: Excerpt) -> Reference:
    return Reference(
        doc_id=doc.doc_id, title=doc.title, doc_type=doc.doc_type, date=doc.date,
        page=excerpt.page, page_label=excerpt.page_label, source="",
    )  # fmt: skip


def excerpt_choices(brief: Brief) -> list[tuple[str, str]]:
    return [(f"{e.position}. {e.quote[:70]}", e.excerpt_id) for e in brief.excerpts]


def anchors_from(
    data: dict[str, Any] | None, picks: list[str], key: str, caller: Caller, library: Library
) -> list[Anchor]:
    """Anchors for the picked citations (key "citations") or passages (key "results") of the
    last answer's or search's data."""
    rows = (data or {}).get(key, [])
    anchors = []
    for pick in picks or []:
        index = int(pick)
        if not 0 <= index < len(rows):
            continue
        row = rows[index]
        try:
            anchors.append(
                anchor_span(library, row["chunk_id"], row["start"], row["end"], caller.role.access)
            )
        except (KBError, KeyError, TypeError) as e:
            raise gr.Error(f"That passage cannot be added: {e}") from e
    return anchors


FORMAT_CHOICES = [
    ("Word (DOCX)", "docx"), ("Markdown", "md"), ("References: RIS", "ris"),
    ("References: BibTeX", "bibtex"), ("References: CSL-JSON", "csl-json"),
]  # fmt: skip
