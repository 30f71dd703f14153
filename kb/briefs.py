"""Briefs: named, ordered collections of excerpts that staff and members collect while they
work, kept in SQLite in the data directory (schema versioned; it survives restarts,
re-ingests and upgrades).

An excerpt is anchored twice: by its verbatim quote, and by where it stood when it was
taken (document, page, passage id, offsets in the stored page text). Before a brief is
shown or exported every excerpt is checked again against the library as it is now
(`recheck`): found where it was, found elsewhere in the document (re-anchored), gone, or no
longer visible to the brief's owner.
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
import sqlite3
import string
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kb.errors import BriefFull, BriefNotFound, DocumentNotFound, QuoteNotFound
from kb.library import Library
from kb.types import Access, Page

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS briefs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS briefs_owner ON briefs (owner);
CREATE TABLE IF NOT EXISTS excerpts (
    id TEXT PRIMARY KEY,
    brief_id TEXT NOT NULL REFERENCES briefs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, quote TEXT NOT NULL, doc_id TEXT NOT NULL,
    page INTEGER, page_label TEXT, chunk_id TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, doc_date TEXT,
    note TEXT NOT NULL DEFAULT '', added TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS excerpts_brief ON excerpts (brief_id, position);
"""


_ID_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """A random id of 12 letters and digits (71 bits): never starting with "-", which a
    command line would take for an option (token_urlsafe's did, one time in 64)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Anchor(_Frozen):
    """Where a quote stands: verbatim text, document, page, passage and page-text offsets."""

    quote: str
    doc_id: str
    page: int | None = None
    page_label: str | None = None
    chunk_id: str
    start: int = Field(description="Offset of the quote in its page's stored text.")
    end: int
    doc_date: dt.date | None = Field(None, description="The document's date: 'as of'.")


class Excerpt(Anchor):
    excerpt_id: str
    position: int = Field(description="1-based place in the brief.")
    note: str = ""
    added: dt.datetime


class Brief(_Frozen):
    brief_id: str
    title: str
    owner: str
    created: dt.datetime
    updated: dt.datetime
    excerpts: tuple[Excerpt, ...] = ()


class Checked(_Frozen):
    """An excerpt as the library stands now."""

    excerpt: Excerpt = Field(description="Re-anchored when its quote moved.")
    status: Literal["ok", "moved", "gone", "unavailable"]
    reason: str = ""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class BriefStore:
    """Every brief of the library, each owned by the name of the key that created it."""

    def __init__(self, data_dir: Path, max_excerpts: int = 200) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._path = data_dir / "briefs.sqlite"
        self._max = max_excerpts
        with self._connect() as db:
            db.executescript(_SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=10)
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def schema_version(self) -> int:
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    # -- briefs ----------------------------------------------------------------------------

    def create(self, owner: str, title: str) -> Brief:
        brief_id, now = new_id(), _now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO briefs (id, owner, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                (brief_id, owner, title, now, now),
            )
        return self.get(owner, brief_id)

    def list(self, owner: str) -> list[Brief]:
        """The owner's briefs, most recently changed first (two queries, however many)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, title, owner, created, updated FROM briefs WHERE owner = ? "
                "ORDER BY updated DESC",
                (owner,),
            ).fetchall()
            return self._with_excerpts(db, rows)

    def get(self, owner: str, brief_id: str) -> Brief:
        """A brief of this owner's; anyone else's does not exist for them."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, title, owner, created, updated FROM briefs WHERE id = ? AND owner = ?",
                (brief_id, owner),
            ).fetchall()
            if not rows:
                raise BriefNotFound("brief")
            return self._with_excerpts(db, rows)[0]

    @staticmethod
    def _with_excerpts(
        db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]
    ) -> builtins.list[Brief]:  # `list` is a method of this class
        """Briefs from their rows, each with its excerpts in order."""
        ids = [row[0] for row in rows]
        excerpts: dict[str, list[Excerpt]] = {brief_id: [] for brief_id in ids}
        found = db.execute(
            "SELECT brief_id, id, position, quote, doc_id, page, page_label, chunk_id, start, "
            f'"end", doc_date, note, added FROM excerpts WHERE brief_id IN '
            f"({','.join('?' * len(ids))}) ORDER BY position",
            ids,
        ).fetchall()
        for r in found:
            excerpts[r[0]].append(
                Excerpt(
                    excerpt_id=r[1],
                    position=r[2],
                    quote=r[3],
                    doc_id=r[4],
                    page=r[5],
                    page_label=r[6],
                    chunk_id=r[7],
                    start=r[8],
                    end=r[9],
                    doc_date=r[10],
                    note=r[11],
                    added=r[12],
                )  # fmt: skip
            )
        return [
            Brief(
                brief_id=row[0],
                title=row[1],
                owner=row[2],
                created=row[3],
                updated=row[4],
                excerpts=tuple(excerpts[row[0]]),
            )  # fmt: skip
            for row in rows
        ]

    def rename(self, owner: str, brief_id: str, title: str) -> Brief:
        self.get(owner, brief_id)
        with self._connect() as db:
            db.execute(
                "UPDATE briefs SET title = ?, updated = ? WHERE id = ?", (title, _now(), brief_id)
            )
        return self.get(owner, brief_id)

    def delete(self, owner: str, brief_id: str) -> None:
        self.get(owner, brief_id)
        with self._connect() as db:
            db.execute("DELETE FROM briefs WHERE id = ?", (brief_id,))

    # -- excerpts --------------------------------------------------------------------------

    def add(self, owner: str, brief_id: str, anchor: Anchor, note: str = "") -> Excerpt:
        """Append an excerpt at the end of the brief."""
        brief = self.get(owner, brief_id)
        if len(brief.excerpts) >= self._max:
            raise BriefFull(f"A brief holds at most {self._max} excerpts; start another one.")
        excerpt_id = new_id()
        with self._connect() as db:
            db.execute(
                "INSERT INTO excerpts (id, brief_id, position, quote, doc_id, page, page_label, "
                'chunk_id, start, "end", doc_date, note, added) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    excerpt_id, brief_id, len(brief.excerpts) + 1, anchor.quote, anchor.doc_id,
                    anchor.page, anchor.page_label, anchor.chunk_id, anchor.start, anchor.end,
                    anchor.doc_date.isoformat() if anchor.doc_date else None, note, _now(),
                ),
            )  # fmt: skip
            db.execute("UPDATE briefs SET updated = ? WHERE id = ?", (_now(), brief_id))
        return self._excerpt(owner, brief_id, excerpt_id)

    def _excerpt(self, owner: str, brief_id: str, excerpt_id: str) -> Excerpt:
        for excerpt in self.get(owner, brief_id).excerpts:
            if excerpt.excerpt_id == excerpt_id:
                return excerpt
        raise BriefNotFound("excerpt")

    def update(
        self,
        owner: str,
        brief_id: str,
        excerpt_id: str,
        note: str | None = None,
        position: int | None = None,
    ) -> Excerpt:
        """Change an excerpt's note, or move it to a position (the others shift)."""
        brief = self.get(owner, brief_id)
        current = self._excerpt(owner, brief_id, excerpt_id)
        order = [e.excerpt_id for e in brief.excerpts if e.excerpt_id != excerpt_id]
        if position is not None:
            order.insert(min(max(position, 1), len(order) + 1) - 1, excerpt_id)
        else:
            order.insert(current.position - 1, excerpt_id)
        with self._connect() as db:
            if note is not None:
                db.execute("UPDATE excerpts SET note = ? WHERE id = ?", (note, excerpt_id))
            self._renumber(db, order)
            db.execute("UPDATE briefs SET updated = ? WHERE id = ?", (_now(), brief_id))
        return self._excerpt(owner, brief_id, excerpt_id)

    def remove(self, owner: str, brief_id: str, excerpt_id: str) -> None:
        brief = self.get(owner, brief_id)
        self._excerpt(owner, brief_id, excerpt_id)
        with self._connect() as db:
            db.execute("DELETE FROM excerpts WHERE id = ?", (excerpt_id,))
            self._renumber(db, [e.excerpt_id for e in brief.excerpts if e.excerpt_id != excerpt_id])
            db.execute("UPDATE briefs SET updated = ? WHERE id = ?", (_now(), brief_id))

    def reanchor(self, excerpt: Excerpt) -> None:
        """Record where a moved quote stands now."""
        with self._connect() as db:
            db.execute(
                'UPDATE excerpts SET page = ?, page_label = ?, chunk_id = ?, start = ?, "end" = ?, '
                "doc_date = ? WHERE id = ?",
                (
                    excerpt.page, excerpt.page_label, excerpt.chunk_id, excerpt.start,
                    excerpt.end, excerpt.doc_date.isoformat() if excerpt.doc_date else None,
                    excerpt.excerpt_id,
                ),
            )  # fmt: skip

    @staticmethod
    def _renumber(db: sqlite3.Connection, order: Sequence[str]) -> None:
        for position, excerpt_id in enumerate(order, start=1):
            db.execute("UPDATE excerpts SET position = ? WHERE id = ?", (position, excerpt_id))


# -- anchoring against the library ---------------------------------------------------------


def _page(pages: Sequence[Page], number: int | None) -> Page | None:
    return next((p for p in pages if p.number == number), None)


def _anchor_at(
    library: Library, doc_id: str, page: Page, start: int, end: int, access: Sequence[Access]
) -> Anchor:
    """The anchor of page.text[start:end]: the passage holding most of it."""
    chunks = [c for c in library.document_chunks(doc_id, access) if c.page == page.number]
    overlap = [(min(end, c.end) - max(start, c.start), c) for c in chunks]
    best = max(overlap, key=lambda pair: pair[0], default=(0, None))[1]
    if best is None:
        raise QuoteNotFound(f"'{doc_id}' has no passage at that place.")
    return Anchor(
        quote=page.text[start:end],
        doc_id=doc_id,
        page=page.number,
        page_label=page.label,
        chunk_id=best.chunk_id,
        start=start,
        end=end,
        doc_date=library.document(doc_id, access).date,
    )


def anchor_span(
    library: Library, chunk_id: str, start: int, end: int, access: Sequence[Access]
) -> Anchor:
    """An excerpt given as a passage and page-text offsets inside it (as citations give them)."""
    found = library.chunk(chunk_id, access)
    if found is None:
        raise QuoteNotFound(f"No passage '{chunk_id}' in the library.")
    chunk = found.chunk
    if not chunk.start <= start < end <= chunk.end:
        raise QuoteNotFound(
            f"Offsets {start}-{end} are outside passage '{chunk_id}' ({chunk.start}-{chunk.end})."
        )
    page = _page(library.pages(chunk.doc_id, access), chunk.page)
    if page is None:
        raise QuoteNotFound(f"The page of passage '{chunk_id}' is no longer stored.")
    return _anchor_at(library, chunk.doc_id, page, start, end, access)


def anchor_quote(
    library: Library, doc_id: str, page: int | None, quote: str, access: Sequence[Access]
) -> Anchor:
    """An excerpt given as a quote on a page: found verbatim in the stored page text, or
    refused."""
    quote = quote.strip()
    found = _page(library.pages(doc_id, access), page)
    where = f"page {page} of '{doc_id}'" if page else f"'{doc_id}'"
    if found is None:
        raise QuoteNotFound(f"There is no {where}.")
    start = found.text.find(quote) if quote else -1
    if start < 0:
        raise QuoteNotFound(f"The quote is not verbatim in {where}.")
    return _anchor_at(library, doc_id, found, start, start + len(quote), access)


def recheck(library: Library, excerpt: Excerpt, access: Sequence[Access]) -> Checked:
    """The excerpt against the library now: where it was, moved (re-anchored), or gone."""
    try:
        pages = library.pages(excerpt.doc_id, access)
    except DocumentNotFound:
        visible = excerpt.doc_id in library.document_map(tuple(Access))
        status = "unavailable" if visible else "gone"
        reason = (
            "no longer available to you"
            if visible
            else f"no longer in the library (checked {_now()[:10]})"
        )
        return Checked(excerpt=excerpt, status=status, reason=reason)
    page = _page(pages, excerpt.page)
    if page is not None and page.text[excerpt.start : excerpt.end] == excerpt.quote:
        return Checked(excerpt=excerpt, status="ok")
    for candidate in pages:
        start = candidate.text.find(excerpt.quote)
        if start >= 0:
            anchor = _anchor_at(
                library, excerpt.doc_id, candidate, start, start + len(excerpt.quote), access
            )
            moved = excerpt.model_copy(update=anchor.model_dump())
            return Checked(excerpt=moved, status="moved")
    return Checked(
        excerpt=excerpt,
        status="gone",
        reason=f"no longer in the library since its document changed (checked {_now()[:10]})",
    )


def checked_brief(
    library: Library, store: BriefStore, owner: str, brief_id: str, access: Sequence[Access]
) -> tuple[Brief, list[Checked]]:
    """A brief with every excerpt checked against the library now; moved quotes are
    re-anchored in the store as well."""
    brief = store.get(owner, brief_id)
    checked = [recheck(library, excerpt, access) for excerpt in brief.excerpts]
    for check in checked:
        if check.status == "moved":
            store.reanchor(check.excerpt)
    return brief, checked
