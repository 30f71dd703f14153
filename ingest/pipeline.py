"""`run(paths, settings) -> IngestReport`: make the index follow the library's files.

Per file: hash it; if the store already holds it with the same hash, nothing is parsed or
embedded. Otherwise parse, clean, split (listing pages into items), chunk, embed and write
each document whole (see kb/store.py for how a write commits). A file that fails is
reported by name and skipped; the rest goes in. One ingest at a time holds a lock.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from pydantic import BaseModel, Field
from tqdm import tqdm

from ingest.catalogue import CATALOGUE_NAME, Catalogue, read_catalogue
from ingest.clean import CleanStats
from ingest.isolation import die_with_parent, prepare_isolated
from ingest.parse import is_supported
from ingest.prepare import FileTask, PreparedFile, prepare_file
from kb.files import file_sha256
from kb.library import Library
from kb.locks import write_lock
from kb.settings import Settings
from kb.types import Chunk, Document, ParsedDocument

_POOL_MIN_FILES = 4
_LOOKAHEAD = 2


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


class _Run:
    """One ingest run's state: the library it writes to and the report it fills."""

    def __init__(self, library: Library, report: IngestReport, reindex: bool = False) -> None:
        self.library = library
        self.reindex = reindex
        self.report = report
        self.stats = CleanStats()
        self.by_source: dict[str, list[Document]] = {}
        for doc in library.stored_documents():
            self.by_source.setdefault(doc.source, []).append(doc)
        self.known = {d.doc_id: d for docs in self.by_source.values() for d in docs}
        self.embedded: set[str] = set()  # documents this run embedded
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

    def task(self, root: Path, path: Path) -> FileTask | None:
        """The work a file needs, or None when it is indexed already with the same content."""
        digest = file_sha256(path)
        catalogue = self.catalogue(root, path)
        previous = self.by_source.get(str(path.resolve()), [])
        if previous and all(d.file_hash == digest for d in previous) and not self.reindex:
            self.report.unchanged += 1
            self._refresh_metadata(previous, catalogue, path)
            return None
        return FileTask(root=root, path=path, digest=digest, catalogue=catalogue)

    def write(self, prepared: PreparedFile) -> None:
        """Embed and store the documents of one prepared file, replacing what it held before."""
        path = prepared.task.path
        self.report.warnings.extend(prepared.warnings)
        self.stats.add(prepared.stats)
        if prepared.error is not None:
            self.report.failed.append(FileFailure(path=str(path), reason=prepared.error))
            return
        source = str(path.resolve())
        produced = set()
        for parsed, chunks in prepared.documents:
            doc = parsed.document
            owner = self.known.get(doc.doc_id)
            if owner is not None and owner.source != source:
                if doc.doc_id.startswith("item-"):
                    self.report.duplicates += 1  # the same item, already on another listing page
                    continue
                reason = f"its document id '{doc.doc_id}' is taken by {owner.source}; rename one"
                self.report.failed.append(FileFailure(path=str(path), reason=reason))
                return
            produced.add(doc.doc_id)
            self._write_document(parsed, chunks)
            (self.report.updated if owner else self.report.added).append(doc.doc_id)
        for old in self.by_source.get(source, []):
            if old.doc_id not in produced:
                self.library.remove_document(old.doc_id)
                self.report.removed.append(old.doc_id)

    def _write_document(self, parsed: ParsedDocument, chunks: list[Chunk]) -> None:
        doc = parsed.document
        self.library.add_document(parsed, chunks)
        self.known[doc.doc_id] = doc
        self.embedded.add(doc.doc_id)
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
                "publisher": entry.publisher,
                "authors": entry.authors,
                "series": entry.series,
                "number": entry.number,
                "superseded_by": entry.superseded_by,
            }
            if doc.doc_id.startswith("item-"):
                # Items keep their own title, date, type and (no) address.
                wanted.update(title=None, date=None, doc_type=None, url=None)
            changes = {k: v for k, v in wanted.items() if v is not None and getattr(doc, k) != v}
            if changes:
                self.library.update_document(doc.model_copy(update=changes))
                self.report.updated.append(doc.doc_id)


def prepare_all(
    tasks: list[FileTask], settings: Settings, isolate: bool = False
) -> Iterator[PreparedFile]:
    """Prepared files in order. With several files, a worker process reads and chunks the next
    files while this process embeds the current one (parsing then costs almost no time).
    Isolated (uploads to a running server), each file is read in a process of its own with
    hard time and memory limits (ingest/isolation.py)."""
    if isolate:
        yield from (prepare_isolated(task, settings) for task in tasks)
        return
    if len(tasks) < _POOL_MIN_FILES:
        yield from (prepare_file(task, settings) for task in tasks)
        return
    # spawn, not fork: this process already runs onnxruntime and Chroma threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=die_with_parent
    ) as pool:
        pending: deque[Future[PreparedFile]] = deque()
        queue = iter(tasks)
        for task in queue:
            pending.append(pool.submit(prepare_file, task, settings))
            if len(pending) >= _LOOKAHEAD:
                break
        while pending:
            prepared = pending.popleft().result()
            next_task = next(queue, None)
            if next_task is not None:
                pending.append(pool.submit(prepare_file, next_task, settings))
            yield prepared


def recover(library: Library, report: IngestReport) -> None:
    """Clear documents a crashed run left half-written; this run writes them again."""
    for doc_id in library.clear_unfinished():
        report.warnings.append(f"{doc_id}: cleared an unfinished write from an interrupted run")


def prune(ingest: _Run, paths: Sequence[Path], files: list[tuple[Path, Path]]) -> None:
    """Remove documents whose file is gone from the folders this run walked."""
    folders = [p.resolve() for p in paths if p.is_dir()]
    present = {str(path.resolve()) for _, path in files}
    for source, docs in ingest.by_source.items():
        if source in present or not any(Path(source).is_relative_to(f) for f in folders):
            continue
        for doc in docs:
            ingest.library.remove_document(doc.doc_id)
            ingest.report.removed.append(doc.doc_id)


def remove(target: str, settings: Settings) -> list[str]:
    """Remove one document by id, or every document that came from a file path."""
    with write_lock(settings.data_dir):
        library = Library(settings)
        docs = library.stored_documents()
        doomed = [d.doc_id for d in docs if d.doc_id == target]
        if not doomed:
            source = str(Path(target).resolve())
            doomed = [d.doc_id for d in docs if d.source == source]
        for doc_id in doomed:
            library.remove_document(doc_id)
        library.prepare_readers()  # the index checked against the store, by the writer
    return doomed


def _record_model(library: Library, ingest: _Run, stale: str) -> None:
    """After a run that re-embedded for a new model: record it once no document is left
    with the old one, or say which are."""
    left = [d for d in library.stored_documents() if d.doc_id not in ingest.embedded]
    if not left:
        library.record_embedder()
        return
    ingest.report.warnings.append(
        f"{len(left)} {'document is' if len(left) == 1 else 'documents are'} still embedded "
        f"with '{stale}' (e.g. {left[0].source}): "
        "ingest their folders too, so that questions and passages come from one model"
    )


def run(
    paths: Sequence[Path],
    settings: Settings,
    progress: bool | None = None,
    prune_missing: bool = False,
    reindex: bool = False,
    isolate: bool = False,
) -> IngestReport:
    """Ingest files and folders into the library named by the settings.

    Args:
        paths: files or folders (folders are walked; each may carry a catalogue.csv).
        settings: where the library is and how to parse, chunk and embed.
        progress: show a progress bar (default: when writing to a terminal).
        prune_missing: remove documents whose file is no longer in the given folders.
        reindex: read and embed unchanged files again (after an upgrade that changes how
            text is cleaned, chunked or indexed).
        isolate: read each file in a process of its own with hard time and memory limits
            (for files from outside, such as uploads to a running server).

    Returns:
        The report: what was added, updated, unchanged, removed, failed, and the totals.
    """
    started = time.monotonic()
    report = IngestReport()
    with write_lock(settings.data_dir):
        library = Library(settings)
        recover(library, report)
        # Passages embedded with another model (a changed KB_EMBEDDER__NAME, or an upgrade
        # that changed the default) are embedded again: questions and passages must come
        # from one model. Until all are, the old model stays recorded, so a crash or an
        # ingest of only some folders leaves the next run to finish the job.
        stale = library.stale_embedder()
        ingest = _Run(library, report, reindex or stale is not None)
        files = discover(paths, report)
        report.files = len(files)
        bar = tqdm(
            total=len(files), unit="file", disable=None if progress is None else not progress
        )
        tasks = []
        for root, path in files:
            try:
                task = ingest.task(root, path)
            except OSError as e:
                report.failed.append(FileFailure(path=str(path), reason=e.strerror or str(e)))
                task = None
            if task is None:
                bar.update()
            else:
                tasks.append(task)
        for prepared in prepare_all(tasks, settings, isolate):
            bar.set_postfix_str(prepared.task.path.name[:40], refresh=False)
            ingest.write(prepared)
            bar.update()
        bar.close()
        if prune_missing:
            prune(ingest, paths, files)
        if stale is not None:
            _record_model(library, ingest, stale)
        library.prepare_readers()  # the index checked against the store, by the writer
    report.clean = {
        "hyphen_repairs": ingest.stats.hyphen_repairs,
        "header_footer_lines": ingest.stats.header_footer_lines,
        "duplicate_paragraphs": ingest.stats.duplicate_paragraphs,
    }
    report.seconds = round(time.monotonic() - started, 2)
    return report
