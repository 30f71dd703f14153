"""Backing up and restoring a library: the store's documents (pages, passages, vectors), the
search index, the API keys, the briefs and the link secret, in one folder.

A backup holds the write lock while it copies, so the store, the index, the keys and the
briefs in it agree with each other; readers keep answering meanwhile. Its store is always an
embedded Chroma folder: from an embedded library the files are copied as they are, from a
Chroma server every document is read and written into it, so a backup restores into either
kind of store (and moves a library from one to the other).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from kb.errors import KBError
from kb.library import Library
from kb.locks import write_lock
from kb.settings import Settings, StoreSettings
from kb.store import Store

MANIFEST = "BACKUP.json"
_DATABASES = ("keys.sqlite", "briefs.sqlite")
_FILES = ("link-secret",)


def _copy_database(source: Path, target: Path) -> None:
    """SQLite's own backup: a consistent copy even while another process uses the file."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _copy_state(source: Path, target: Path) -> None:
    """Keys, briefs and the link secret (what the store cannot give back)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in _DATABASES:
        if (source / name).exists():
            (target / name).unlink(missing_ok=True)
            _copy_database(source / name, target / name)
    for name in _FILES:
        if (source / name).exists():
            shutil.copy2(source / name, target / name)


def _store_of(folder: Path, prefix: str) -> Settings:
    return Settings(data_dir=folder, store=StoreSettings(prefix=prefix))


def backup(
    settings: Settings, target: Path, progress: Callable[[int], None] | None = None
) -> dict[str, object]:
    """Copy the library into `target` (a new or empty folder); returns what it holds."""
    if target.exists() and any(target.iterdir()):
        raise KBError(f"{target} is not empty: back up into a new folder.")
    target.mkdir(parents=True, exist_ok=True)
    with write_lock(settings.data_dir):
        library = Library(settings)
        library.reconcile_index()  # the index in the backup agrees with its store
        if settings.store.backend == "embedded":
            # No writer while the lock is held: the files (with their WAL) are consistent.
            shutil.copytree(settings.data_dir / "chroma", target / "chroma")
            shutil.copytree(settings.data_dir / "index", target / "index")
            copy = Library(_store_of(target, settings.store.prefix))
        else:
            copy = Library(_store_of(target, settings.store.prefix))
            library.copy_store_to(copy, progress)
        _copy_state(settings.data_dir, target)
        manifest = {
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "prefix": settings.store.prefix,
            "documents": len(copy.stored_documents()),
            "chunks": copy.chunk_count(),
            "from_store": settings.store.backend,
        }
        copy.close()
        library.close()
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def restore(
    settings: Settings, source: Path, replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, object]:  # fmt: skip
    """Make the library the one backed up in `source`. Stop the server first: a restore
    replaces the store under it."""
    try:
        manifest: dict[str, object] = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise KBError(f"{source} is not a backup made by `kb backup` ({MANIFEST} missing).") from e
    backed_up = Library(_store_of(source, str(manifest["prefix"])))
    with write_lock(settings.data_dir):
        if settings.store.backend == "embedded" and settings.store.prefix == manifest["prefix"]:
            chroma = settings.data_dir / "chroma"
            if chroma.exists() and not replace:
                raise KBError(f"{settings.data_dir} holds a library: restore with --replace.")
            Store.forget_folder(settings.data_dir)
            for folder in ("chroma", "index"):  # the files as they were backed up
                shutil.rmtree(settings.data_dir / folder, ignore_errors=True)
                shutil.copytree(source / folder, settings.data_dir / folder)
            library = Library(settings)
        else:
            library = Library(settings)
            present = library.stored_documents()
            if present and not replace:
                raise KBError(f"{settings.data_dir} holds a library: restore with --replace.")
            for doc in present:
                library.remove_document(doc.doc_id)
            backed_up.copy_store_to(library, progress)
        _copy_state(source, settings.data_dir)
        library.reconcile_index()
        library.close()
    backed_up.close()
    return manifest
