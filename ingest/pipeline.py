"""`run(paths, settings) -> IngestReport`: make the index follow the library's files.

Per file: hash it; if the store already holds it with the same hash, nothing is parsed or
embedded. Otherwise parse, clean, split (listing pages into items), chunk, embed and write
each document whole (see kb/store.py for how a write commits). A file that fails is
reported by name and skipped; the rest goes in. One ingest at a time holds a lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field
from tqdm import tqdm

from ingest.catalogue import CATALOGUE_NAME, Catalogue, read_catalogue
from ingest.chunk import chunk_pages, make_splitter
from ingest.clean import CleanStats, clean_pages, find_headings
from ingest.listing import is_listing, split_listing
from ingest.parse import RawFile, is_supported, read_file
from kb import lexical
from kb.errors import IndexBusy, KBError, ParseError
from kb.library import Library
from kb.settings import Settings
from kb.text import index_text
from kb.types import Access, DocType, Document, Heading, Page, ParsedDocument


class FileFailure(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    """What an ingest run did, for people (summary) and scripts (--json)."""

    files: int = 0
    added: list[str] = Field(default_factory=list, description="Documents added.")
    updated: list[str] = Field(default_factory=list, description="Documents replaced.")
    unchanged: int = Field(0, description="Files already indexed with the same content.")
    removed: list[str] = Field(default_factory=list)
    duplicates: int = Field(0, description="Listing items already indexed from another page.")
    skipped: int = Field(0, description="Files of unsupported types.")
    failed: list[FileFailure] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0
    clean: dict[str, int] = Field(default_factory=dict, description="Clean-up counters.")


@contextmanager
def write_lock(data_dir: Path) -> Iterator[None]:
    """Only one writer at a time; a second run stops with a clear message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "ingest.lock").open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise IndexBusy(
                f"Another `kb ingest` is writing to {data_dir}; try again when it ends."
            ) from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


def discover(paths: Sequence[Path], report: IngestReport) -> list[tuple[Path, Path]]:
    """(root, file) for every supported file; symlinked folders are not followed (no loops)."""
    found: list[tuple[Path, Path]] = []
    for given in paths:
        if given.is_file():
            found.append((given.parent, given))
            continue
        if not given.is_dir():
            report.failed.append(FileFailure(path=str(given), reason="no such file or folder"))
            continue
        for folder, dirs, files in os.walk(
            given,
            onerror=lambda e: report.failed.append(
                FileFailure(path=str(e.filename), reason=e.strerror or str(e))
            ),
        ):
            dirs.sort()
            for name in sorted(files):
                path = Path(folder) / name
                if name == CATALOGUE_NAME or name.startswith("."):
                    continue
                if is_supported(path):
                    found.append((given, path))
                else:
                    report.skipped += 1
    return found


def _headings(text: str) -> tuple[Heading, ...]:
    return tuple(Heading(offset=o, text=t) for o, t in find_headings(text))


def _title(path: Path, raw: RawFile, pages: list[Page]) -> str:
    if raw.title:
        return raw.title
    for page in pages:
        if page.headings:
            return page.headings[0].text
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


def build_documents(
    root: Path,
    path: Path,
    raw: RawFile,
    catalogue: Catalogue,
    digest: str,
    settings: Settings,
    stats: CleanStats,
) -> list[ParsedDocument]:
    """Cleaned documents of one file: one, or one per dated item of a listing page."""
    entry = catalogue.entry(path)
    texts = clean_pages(
        [p.text for p in raw.pages], settings.parsing.header_footer_min_share, stats
    )
    pages = [
        Page(number=r.number, label=r.label, text=t, headings=_headings(t))
        for r, t in zip(raw.pages, texts, strict=True)
    ]
    rel = (
        path.resolve().relative_to(root.resolve())
        if path.resolve().is_relative_to(root.resolve())
        else Path(path.name)
    )
    base = Document(
        doc_id=slug(rel.with_suffix("").as_posix()),
        title=entry.title or _title(path, raw, pages),
        doc_type=entry.doc_type or DocType.other,
        date=entry.date,
        language=entry.language or "en",
        access=entry.access or Access.public,
        source=str(path.resolve()),
        url=entry.url,
        content_type=raw.content_type,
        file_hash=digest,
        pages=sum(1 for p in raw.pages if p.number),
    )
    if raw.content_type != "application/pdf" and len(texts) == 1 and is_listing(texts[0]):
        return [
            ParsedDocument(
                document=base.model_copy(
                    update={
                        "doc_id": f"item-{item.key}",
                        "title": item.title,
                        "date": item.date,
                        "doc_type": entry.doc_type or DocType.news,
                    }
                ),
                pages=(Page(text=item.text, headings=_headings(item.text)),),
            )
            for item in split_listing(texts[0])
        ]
    return [ParsedDocument(document=base, pages=tuple(p for p in pages if p.text))]


class _Run:
    """One ingest run's state: the library it writes to and the report it fills."""

    def __init__(self, library: Library, report: IngestReport) -> None:
        self.library = library
        self.store = library.store
        self.report = report
        self.splitter = make_splitter(library.settings.chunking, library.embedder.tokenize)
        self.stats = CleanStats()
        self.by_source: dict[str, list[Document]] = {}
        for doc in self.store.documents():
            self.by_source.setdefault(doc.source, []).append(doc)
        self.known = {d.doc_id: d for docs in self.by_source.values() for d in docs}
        self.catalogues: dict[Path, Catalogue] = {}

    def catalogue(self, root: Path, path: Path) -> Catalogue:
        folder = path.parent
        while True:
            if folder not in self.catalogues:
                self.catalogues[folder] = read_catalogue(folder)
                self.report.warnings.extend(self.catalogues[folder].problems)
            if self.catalogues[folder].entries or folder == root or folder.parent == folder:
                return self.catalogues[folder]
            folder = folder.parent

    def ingest_file(self, root: Path, path: Path) -> None:
        source = str(path.resolve())
        digest = file_hash(path)
        previous = self.by_source.get(source, [])
        catalogue = self.catalogue(root, path)
        if previous and all(d.file_hash == digest for d in previous):
            self.report.unchanged += 1
            self._refresh_metadata(previous, catalogue, path)
            return
        raw = read_file(path, self.library.settings.parsing)
        self.report.warnings.extend(raw.warnings)
        produced = set()
        for parsed in build_documents(
            root, path, raw, catalogue, digest, self.library.settings, self.stats
        ):
            doc = parsed.document
            owner = self.known.get(doc.doc_id)
            if owner is not None and owner.source != source:
                self.report.duplicates += 1  # the same item, already indexed from another page
                continue
            produced.add(doc.doc_id)
            self._write(parsed)
            (self.report.updated if owner else self.report.added).append(doc.doc_id)
        for old in previous:
            if old.doc_id not in produced:
                self.store.delete_document(old.doc_id)
                self.report.removed.append(old.doc_id)

    def _write(self, parsed: ParsedDocument) -> None:
        doc = parsed.document
        chunks = chunk_pages(doc.doc_id, parsed.pages, self.splitter)
        if not chunks:
            raise ParseError(doc.source, "no text left to index after clean-up")
        texts = [index_text(doc.title, c.section, c.text) for c in chunks]
        vectors = self.library.embedder.embed(texts + [doc.title])
        self.store.write_document(parsed, chunks, vectors[:-1], vectors[-1])
        self.known[doc.doc_id] = doc
        self.report.pages += doc.pages or len(parsed.pages)
        self.report.chunks += len(chunks)

    def _refresh_metadata(self, docs: list[Document], catalogue: Catalogue, path: Path) -> None:
        """A changed catalogue row updates the document without re-embedding it."""
        entry = catalogue.entry(path)
        for doc in docs:
            wanted = {
                "title": entry.title,
                "doc_type": entry.doc_type,
                "date": entry.date,
                "url": entry.url,
                "language": entry.language,
                "access": entry.access,
            }
            if doc.doc_id.startswith("item-"):
                wanted.update(title=None, date=None)  # items keep their own title and date
            changes = {k: v for k, v in wanted.items() if v is not None and getattr(doc, k) != v}
            if changes:
                self.store.update_metadata(doc.model_copy(update=changes))
                self.report.updated.append(doc.doc_id)


def recover(library: Library, report: IngestReport) -> None:
    """Clear documents a crashed run left half-written; this run writes them again."""
    for doc_id in library.store.pending_documents():
        library.store.delete_document(doc_id)
        report.warnings.append(f"{doc_id}: cleared an unfinished write from an interrupted run")


def run(paths: Sequence[Path], settings: Settings, progress: bool | None = None) -> IngestReport:
    """Ingest files and folders into the library named by the settings.

    Args:
        paths: files or folders (folders are walked; each may carry a catalogue.csv).
        settings: where the library is and how to parse, chunk and embed.
        progress: show a progress bar (default: when writing to a terminal).

    Returns:
        The report: what was added, updated, unchanged, removed, failed, and the totals.
    """
    started = time.monotonic()
    report = IngestReport()
    with write_lock(settings.data_dir):
        library = Library(settings)
        recover(library, report)
        ingest = _Run(library, report)
        files = discover(paths, report)
        report.files = len(files)
        bar = tqdm(files, unit="file", disable=None if progress is None else not progress)
        for root, path in bar:
            bar.set_postfix_str(path.name[:40], refresh=False)
            try:
                ingest.ingest_file(root, path)
            except KBError as e:
                reason = e.reason if isinstance(e, ParseError) else str(e)
                report.failed.append(FileFailure(path=str(path), reason=reason))
            except Exception as e:  # one bad file must not stop the library
                report.failed.append(FileFailure(path=str(path), reason=f"{type(e).__name__}: {e}"))
        lexical.load_or_build(library.store, settings.data_dir)
    report.clean = {
        "hyphen_repairs": ingest.stats.hyphen_repairs,
        "header_footer_lines": ingest.stats.header_footer_lines,
        "duplicate_paragraphs": ingest.stats.duplicate_paragraphs,
    }
    report.seconds = round(time.monotonic() - started, 2)
    return report
