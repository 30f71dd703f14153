"""One file to the documents and chunks it holds: read, clean, split listings, chunk.

Pure work on one file with no store access, so the pipeline can run it in a worker process
while the main process embeds and writes the previous file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.catalogue import Catalogue
from ingest.chunk import chunk_pages, make_splitter
from ingest.clean import CleanStats, clean_pages, find_headings, split_glued_words
from ingest.listing import is_listing, split_listing
from ingest.parse import RawFile, read_file
from kb.acronyms import glossary
from kb.embedder import load_tokenizer
from kb.errors import ParseError
from kb.settings import Settings
from kb.types import Access, Chunk, DocType, Document, Heading, Page, ParsedDocument


@dataclass(frozen=True)
class FileTask:
    root: Path
    path: Path
    digest: str
    catalogue: Catalogue


@dataclass
class PreparedFile:
    """What one file holds, ready to embed; or why it could not be read."""

    task: FileTask
    documents: list[tuple[ParsedDocument, list[Chunk]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stats: CleanStats = field(default_factory=CleanStats)
    error: str | None = None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


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
    task: FileTask, raw: RawFile, settings: Settings, stats: CleanStats
) -> list[ParsedDocument]:
    """Cleaned documents of one file: one, or one per dated item of a listing page."""
    root, path, digest = task.root, task.path, task.digest
    entry = task.catalogue.entry(path)
    texts = clean_pages(
        [p.text for p in raw.pages], settings.parsing.header_footer_min_share, stats
    )
    if raw.content_type != "application/pdf":  # in PDFs "SunEdison" is a name, not a glue
        texts = [split_glued_words(t, stats) for t in texts]
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
        publisher=entry.publisher,
        authors=entry.authors,
        series=entry.series,
        number=entry.number,
        superseded_by=entry.superseded_by,
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
                        # One listing holds news and standing pages (membership rules), so
                        # each item has its own type, not the listing's.
                        "doc_type": item.doc_type,
                        # The listing's address is not the item's, and the text gives none.
                        "url": None,
                    }
                ),
                # The page an item comes from is its first section: "Launched in early
                # 2022, ..." says little until one knows it is about the LMPN.
                pages=(
                    Page(
                        text=item.text,
                        headings=(Heading(offset=0, text=base.title), *_headings(item.text)),
                    ),
                ),
            )
            for item in split_listing(texts[0])
        ]
    return [ParsedDocument(document=base, pages=tuple(p for p in pages if p.text))]


def prepare_file(task: FileTask, settings: Settings) -> PreparedFile:
    """Read, clean and chunk one file; a failure is returned, not raised."""
    prepared = PreparedFile(task=task)
    try:
        raw = read_file(task.path, settings.parsing)
        prepared.warnings.extend(raw.warnings)
        splitter = make_splitter(settings.chunking, load_tokenizer(settings.embedder))
        documents = build_documents(task, raw, settings, prepared.stats)
        # One file, one set of definitions: a listing page defines LMPN in one item and
        # uses it in the next.
        acronyms = glossary(p.text for parsed in documents for p in parsed.pages)
        # The names the catalogue gives a document ("the AI Act") are searched with each of
        # its passages and count as mentioned by them, as the acronyms' long forms do.
        names = task.catalogue.entry(task.path).aliases
        for parsed in documents:
            chunks = chunk_pages(parsed.document.doc_id, parsed.pages, splitter, acronyms)
            if names:
                chunks = [c.model_copy(update={"aliases": (*c.aliases, *names)}) for c in chunks]
            if not chunks:
                raise ParseError(str(task.path), "no text left to index after clean-up")
            prepared.documents.append((parsed, chunks))
    except ParseError as e:
        prepared.error = e.reason
    except Exception as e:  # one bad file must not stop the library
        prepared.error = f"{type(e).__name__}: {e}"
    return prepared
