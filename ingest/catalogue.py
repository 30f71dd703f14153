"""The library's catalogue: `catalogue.csv` beside the files, one row per file.

Columns: path, title, doc_type, date, url, language, access, and optionally publisher (the
issuing body), authors (separated by semicolons), series and number, which references need, and
superseded_by (the id or path of a newer document that replaces this one). A file without a
row gets its metadata inferred from the file itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kb.types import Access, DocType

CATALOGUE_NAME = "catalogue.csv"
COLUMNS = (
    "path", "title", "doc_type", "date", "url", "language", "access", "publisher", "authors",
    "series", "number", "superseded_by", "aliases",
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One catalogue row; empty fields are None and get inferred."""

    title: str | None = None
    doc_type: DocType | None = None
    date: dt.date | None = None
    url: str | None = None
    language: str | None = None
    access: Access | None = None
    publisher: str | None = None
    authors: str | None = None
    series: str | None = None
    number: str | None = None
    superseded_by: str | None = None
    aliases: tuple[str, ...] = ()  # other names the document goes by ("the AI Act")


@dataclass
class Catalogue:
    root: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def entry(self, path: Path) -> Entry:
        try:
            key = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return Entry()
        return self.entries.get(key, Entry())


def _row_entry(row: dict[str, str], where: str) -> Entry:
    def value(name: str) -> str | None:
        return (row.get(name) or "").strip() or None

    doc_type, access, date = value("doc_type"), value("access"), value("date")
    try:
        return Entry(
            title=value("title"),
            doc_type=DocType(doc_type) if doc_type else None,
            date=dt.date.fromisoformat(date) if date else None,
            url=value("url"),
            language=value("language"),
            access=Access(access) if access else None,
            publisher=value("publisher"),
            authors=value("authors"),
            series=value("series"),
            number=value("number"),
            superseded_by=value("superseded_by"),
            aliases=tuple(a.strip() for a in (value("aliases") or "").split(";") if a.strip()),
        )
    except ValueError as e:
        allowed = ", ".join(t.value for t in DocType)
        raise ValueError(
            f"{where}: {e} (doc_type is one of {allowed}; access public|members; date YYYY-MM-DD)"
        ) from e


def read_catalogue(folder: Path) -> Catalogue:
    """The catalogue of a folder (empty when it has none). Bad rows are reported, not fatal."""
    catalogue = Catalogue(root=folder)
    path = folder / CATALOGUE_NAME
    if not path.is_file():
        return catalogue
    with path.open(newline="", encoding="utf-8-sig") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            where = f"{path}:{line}"
            rel = (row.get("path") or "").strip()
            if not rel:
                catalogue.problems.append(f"{where}: no path")
                continue
            try:
                catalogue.entries[Path(rel).as_posix()] = _row_entry(row, where)
            except ValueError as e:
                catalogue.problems.append(str(e))
    return catalogue


def write_entry(folder: Path, rel_path: str, values: dict[str, str] | None) -> None:
    """Set (or with None, delete) one file's row in a folder's catalogue, atomically."""
    path = folder / CATALOGUE_NAME
    rows: list[dict[str, str]] = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8-sig") as current:
            rows = [dict(r) for r in csv.DictReader(current)]
    rows = [r for r in rows if (r.get("path") or "").strip() != rel_path]
    if values is not None:
        rows.append({"path": rel_path, **{c: values.get(c, "") for c in COLUMNS if c != "path"}})
    with tempfile.NamedTemporaryFile(
        "w",
        dir=folder,
        prefix=".catalogue-",
        suffix=".tmp",
        delete=False,
        newline="",
        encoding="utf-8",
    ) as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    Path(f.name).replace(path)


def catalogue_for(path: Path, levels: int = 8) -> tuple[Path, str]:
    """The folder whose catalogue.csv has this file's row (the nearest one that does), and the
    file's path relative to it; the file's own folder when no catalogue names it."""
    folder = path.parent
    for _ in range(levels):
        rel = path.relative_to(folder).as_posix()
        if current_values(folder, rel):
            return folder, rel
        if folder.parent == folder:
            break
        folder = folder.parent
    return path.parent, path.name


def current_values(folder: Path, rel_path: str) -> dict[str, str]:
    """One file's row as plain strings (empty when the file has none)."""
    path = folder / CATALOGUE_NAME
    if path.is_file():
        with path.open(newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                if (row.get("path") or "").strip() == rel_path:
                    return {k: (v or "").strip() for k, v in row.items() if k}
    return {}
