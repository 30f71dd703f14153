"""What staff do to the library from the server: upload, remove and re-classify documents.

The catalogue stays the source of truth: an upload is saved under `DATA_DIR/uploads` with a
row in that folder's catalogue.csv, a re-classified document gets its catalogue row changed,
so a later `kb ingest` agrees with what staff did.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
import unicodedata
from pathlib import Path

from ingest.catalogue import catalogue_for, current_values, write_entry
from ingest.parse import CONTENT_TYPES
from ingest.pipeline import IngestReport, remove, run
from ingest.prepare import slug
from kb.errors import DocumentNotFound, KBError
from kb.library import Library
from kb.locks import write_lock
from kb.settings import Settings
from kb.types import MEMBERS, Document


class UploadRefused(KBError):
    """An upload that is not accepted (type, size, content); the message says why."""


def uploads_dir(settings: Settings) -> Path:
    return (settings.data_dir / "uploads").resolve()


def safe_file_name(name: str) -> str:
    """A file name with no path, no control or shell-special characters, and a known type."""
    name = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    if suffix not in CONTENT_TYPES:
        allowed = ", ".join(sorted(CONTENT_TYPES))
        raise UploadRefused(f"'{suffix or name}' files are not accepted; allowed: {allowed}.")
    stem = re.sub(r"[^\w.\- ]+", "_", stem).strip(" ._")[:100] or "document"
    return f"{stem}{suffix}"


_UPLOADS = threading.Lock()


def _free_name(folder: Path, name: str, taken: set[str]) -> Path:
    """A file name in the uploads folder whose document id is free: not used by any document
    of the library nor by another upload (`x.html` after `x.md` would share the id `x`), and
    never shaped like a listing item's id (`item-...`)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    if slug(stem).startswith("item"):
        stem = f"upload-{stem}"
    used = taken | {slug(p.stem) for p in folder.iterdir()}
    candidate, counter = stem, 1
    while slug(candidate) in used:
        counter += 1
        # Ids are cut at 80 characters: the counter must fall inside them.
        candidate = f"{stem[:60]}-{counter}"
    return folder / f"{candidate}{suffix}"


def _without_paths(reason: str) -> str:
    """A failure reason fit for a client: file names, never the server's folders."""
    return re.sub(r"(?:[A-Za-z]:)?[/\\][^\s'\"]*[/\\]([^/\\\s'\"]+)", r"\1", reason)


def add_upload(
    temp_file: Path, file_name: str, fields: dict[str, str], settings: Settings, library: Library
) -> IngestReport:
    """Store an uploaded file with its catalogue row and ingest it at once. Uploads in this
    process go one at a time, so two cannot pick the same name or lose a catalogue row."""
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_file_name(file_name)
    with _UPLOADS:
        target = _free_name(folder, name, set(library.document_map(MEMBERS)))
        shutil.move(temp_file, target)
        write_entry(folder, target.name, fields)
        try:
            report = run([target], settings, progress=False, isolate=True)
        except BaseException:
            _forget(folder, target)
            raise
        library.invalidate()
        if report.failed or not (report.added or report.updated):
            _forget(folder, target)
            reason = report.failed[0].reason if report.failed else "nothing in it could be indexed"
            raise UploadRefused(f"{name}: {_without_paths(reason)}")
    return report


def _forget(folder: Path, target: Path) -> None:
    """Take back an upload that did not go in: its file and its catalogue row."""
    target.unlink(missing_ok=True)
    write_entry(folder, target.name, None)


def delete_document(doc_id: str, settings: Settings, library: Library) -> None:
    """Remove a document; its file leaves the library folder for DATA_DIR/removed."""
    doc = library.document_map(MEMBERS).get(doc_id)
    if doc is None:
        raise DocumentNotFound(doc_id)
    remove(doc_id, settings)
    library.invalidate()
    source = Path(doc.source)
    siblings = [d for d in library.stored_documents() if d.source == doc.source]
    if siblings or not source.is_file():
        return  # a listing page still holds other items: keep the file
    write_entry(source.parent, source.name, None)
    trash = settings.data_dir / "removed"
    trash.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    shutil.move(source, trash / f"{stamp}-{source.name}")


def reclassify(
    doc_id: str, changes: dict[str, str], settings: Settings, library: Library
) -> Document:
    """Change a document's catalogue fields (access, type, title, date) without re-embedding,
    and its catalogue row, so that the next `kb ingest` agrees."""
    doc = library.document_map(MEMBERS).get(doc_id)
    if doc is None:
        raise DocumentNotFound(doc_id)
    updated = doc.model_validate({**doc.model_dump(), **changes})
    with write_lock(settings.data_dir):
        siblings = [d.doc_id for d in library.stored_documents() if d.source == doc.source]
        if siblings != [doc_id]:
            # One catalogue row covers every item of a listing page: it would undo the change.
            raise KBError(
                f"'{doc_id}' is one of {len(siblings)} items of a listing page; change the "
                "page's row in its catalogue.csv and run `kb ingest` instead."
            )
        source = Path(doc.source)
        if source.parent.is_dir():
            folder, rel = catalogue_for(source)
            row = current_values(folder, rel)
            write_entry(folder, rel, {**row, **{k: str(v) for k, v in changes.items()}})
        library.update_document(updated)
    return updated
