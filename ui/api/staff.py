"""Staff and admin endpoints: upload, remove and re-classify documents."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import Response

from ingest.curation import (
    UploadRefused,
    add_upload,
    delete_document,
    reclassify,
    safe_file_name,
)
from kb.types import Access, DocType
from ui.api.deps import ERRORS, EditorDep, LibraryDep, SettingsDep
from ui.contracts import PLAIN_TEXT, DocumentChanges, DocumentOut, InvalidRequest

router = APIRouter(prefix="/api/documents", responses=ERRORS, tags=["staff"])
_BLOCK = 1 << 20


def _save_upload(file: UploadFile, limit_mb: float, folder: Path) -> Path:
    """Copy the upload to a temporary file, refusing it as soon as it passes the limit."""
    limit = int(limit_mb * 1024 * 1024)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, prefix=".upload-") as out:
        size = 0
        while block := file.file.read(_BLOCK):
            size += len(block)
            if size > limit:
                out.close()
                Path(out.name).unlink(missing_ok=True)
                raise HTTPException(413, f"The file is over the {limit_mb:g} MB upload limit.")
            out.write(block)
    if size == 0:
        Path(out.name).unlink(missing_ok=True)
        raise UploadRefused("The file is empty.")
    return Path(out.name)


@router.post("", response_model=list[DocumentOut], status_code=201)
def upload(
    editor: EditorDep,
    library: LibraryDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="PDF, HTML, Markdown or text.")],
    title: Annotated[str, Form(max_length=300, pattern=PLAIN_TEXT)] = "",
    doc_type: Annotated[DocType, Form()] = DocType.other,
    date: Annotated[dt.date | None, Form()] = None,
    url: Annotated[str, Form(max_length=2000, pattern=PLAIN_TEXT)] = "",
    language: Annotated[str, Form(min_length=2, max_length=8, pattern=r"^[A-Za-z-]+$")] = "en",
    access: Annotated[Access, Form()] = Access.public,
) -> list[DocumentOut]:
    """Add a file with its catalogue fields; it is ingested at once."""
    name = safe_file_name(file.filename or "")
    temp = _save_upload(file, settings.server.max_upload_mb, settings.data_dir / "uploads")
    fields = {
        "title": title.strip(),
        "doc_type": doc_type.value,
        "date": date.isoformat() if date else "",
        "url": url.strip(),
        "language": language,
        "access": access.value,
    }
    try:
        report = add_upload(temp, name, fields, settings, library)
    finally:
        temp.unlink(missing_ok=True)
    library.invalidate()
    added = library.document_map(editor.role.access)
    return [DocumentOut.of(added[d]) for d in report.added + report.updated if d in added]


@router.delete("/{doc_id}", status_code=204, response_class=Response)
def delete(doc_id: str, editor: EditorDep, library: LibraryDep, settings: SettingsDep) -> Response:
    """Remove a document from the library (its file moves to DATA_DIR/removed)."""
    delete_document(doc_id, settings, library)
    return Response(status_code=204)


@router.patch("/{doc_id}", response_model=DocumentOut)
def change(
    doc_id: str,
    body: DocumentChanges,
    editor: EditorDep,
    library: LibraryDep,
    settings: SettingsDep,
) -> DocumentOut:
    """Change a document's access, type, title or date (no re-embedding)."""
    changes = body.model_dump(exclude_none=True, mode="json")
    if not changes:
        raise InvalidRequest("Nothing to change: give access, title, doc_type or date.")
    return DocumentOut.of(reclassify(doc_id, changes, settings, library))
