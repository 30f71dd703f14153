"""Read files into raw pages: PDF (pypdf, page by page), HTML, Markdown and plain text.

Each reader returns `RawFile`; any failure becomes a `ParseError` naming the file and a
reason a person understands. Clean-up happens afterwards, in clean.py.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.titles import cover_title, useful_title
from kb.errors import ParseError
from kb.settings import ParsingSettings

CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
}

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass
class RawPage:
    number: int | None
    label: str | None
    text: str


@dataclass
class RawFile:
    content_type: str
    pages: list[RawPage]
    title: str | None = None
    warnings: list[str] = field(default_factory=list)


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in CONTENT_TYPES


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 when it is, else the most likely encoding."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return str(best) if best is not None else data.decode("cp1252", errors="replace")


def read_pdf(path: Path, settings: ParsingSettings) -> RawFile:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if path.read_bytes()[:1024].find(b"%PDF-") < 0:
        raise ParseError(str(path), "not a PDF file (no PDF header)")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(str(path), "encrypted PDF that needs a password")
        count = len(reader.pages)
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise ParseError(str(path), f"damaged PDF ({e})") from e
    except Exception as e:  # pypdf raises many kinds on broken files
        raise ParseError(str(path), f"damaged PDF ({type(e).__name__}: {e})") from e
    if count > settings.max_pages:
        raise ParseError(str(path), f"{count} pages, over the limit of {settings.max_pages}")
    try:
        labels = list(reader.page_labels)
    except Exception:
        labels = []
    raw = RawFile(content_type=CONTENT_TYPES[".pdf"], pages=[])
    started = time.monotonic()
    for i in range(count):
        if time.monotonic() - started > settings.max_seconds_per_file:
            raise ParseError(str(path), f"parsing took over {settings.max_seconds_per_file:.0f} s")
        try:
            text = reader.pages[i].extract_text() or ""
        except Exception as e:
            raw.warnings.append(f"{path}: page {i + 1} unreadable ({type(e).__name__})")
            text = ""
        label = labels[i] if i < len(labels) else None
        raw.pages.append(RawPage(i + 1, label if label != str(i + 1) else None, text))
    if sum(len(p.text.strip()) for p in raw.pages) < 20:
        raise ParseError(str(path), "no extractable text (scanned?)")
    try:
        raw.title = useful_title(reader.metadata.title if reader.metadata else None)
    except Exception:
        raw.title = None
    raw.title = raw.title or cover_title(reader.pages[0])
    return raw


def read_html(path: Path) -> RawFile:
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    try:
        # Bytes that decode as UTF-8 are UTF-8, whatever the page declares.
        markup: str | bytes = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        markup = data  # BeautifulSoup tries the declared encoding, then detects one
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    h1 = soup.find("h1")
    if soup.title:
        soup.title.decompose()
    body = soup.body or soup
    for block in body.find_all(["p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "br"]):
        block.insert_after("\n\n" if block.name != "br" else "\n")
    text = body.get_text("")
    best_title = (h1.get_text(" ", strip=True) if h1 else None) or title
    return RawFile(CONTENT_TYPES[".html"], [RawPage(None, None, text)], useful_title(best_title))


_MD_RULES = [
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links keep their text
    (re.compile(r"^#{1,6}\s*(.+?)\s*#*\s*$", re.M), r"\n\1\n"),  # headings on their own
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"^\s*[-*+]\s+", re.M), "• "),
]


def read_markdown(path: Path) -> RawFile:
    text = decode_text(path.read_bytes())
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    title = heading.group(1).strip() if heading else None
    return RawFile(CONTENT_TYPES[".md"], [RawPage(None, None, text)], title)


def read_text(path: Path) -> RawFile:
    return RawFile(CONTENT_TYPES[".txt"], [RawPage(None, None, decode_text(path.read_bytes()))])


def read_file(path: Path, settings: ParsingSettings) -> RawFile:
    """Read one file, or raise ParseError with the reason."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise ParseError(str(path), "empty file (0 bytes)")
        if size > settings.max_file_mb * 1024 * 1024:
            raise ParseError(
                str(path), f"{size / 2**20:.0f} MB, over the {settings.max_file_mb:g} MB limit"
            )
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            return read_pdf(path, settings)
        if suffix in (".html", ".htm"):
            return read_html(path)
        if suffix in (".md", ".markdown"):
            return read_markdown(path)
        return read_text(path)
    except PermissionError as e:
        raise ParseError(str(path), "permission denied") from e
    except OSError as e:
        raise ParseError(str(path), f"cannot read ({e.strerror or e})") from e
