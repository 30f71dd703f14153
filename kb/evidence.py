"""Where a quote stands on its page, so a reader sees it highlighted there.

A quote is a stretch of the *cleaned* page text (hyphenated line ends repaired, ligatures
spelled out, running headers removed, lines joined). The PDF page holds the raw characters.
`align` maps one onto the other on letters and digits alone (case, spacing, hyphens and
ligatures aside), piece by piece: a running header or a footnote marker between two parts of
the quote, or a second column that the PDF's text order puts elsewhere, only splits the
highlight. `pdf_marks` turns the matched characters into boxes on the page (pdfium's own
text positions) and renders the page.

pdfium is not thread-safe: every call into it holds `_PDFIUM`.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PDFIUM = threading.Lock()
_MIN_PIECE = 6  # letters and digits: shorter runs match anywhere by chance
_RENDER_WIDTH = 1240  # pixels: a page readable on a laptop screen, text crisp when zoomed


@dataclass(frozen=True)
class Box:
    """A highlighted rectangle, as fractions of the page (origin top left), so it scales
    with the page image."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class PageImage:
    """A rendered PDF page with the quote's boxes on it."""

    number: int
    label: str | None
    count: int
    png: bytes
    boxes: tuple[Box, ...]
    found: float  # share of the quote's letters and digits located on the page
    marked_text: str  # the page's characters under the boxes, for checking


def _letters(text: str) -> tuple[str, list[int]]:
    """Letters and digits of a text, lower-cased and compatibility-decomposed (ﬁ -> fi), with
    the offset each came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if c.isalnum():
                out.append(c.lower())
                where.append(i)
    return "".join(out), where


def align(quote: str, page: str) -> tuple[list[tuple[int, int]], float]:
    """Character ranges of `page` that spell `quote`, and the share of the quote found.

    Greedy: the longest prefix of what is left of the quote that occurs in the page (after
    the previous piece if it can, anywhere otherwise), then the rest. Pieces shorter than
    `_MIN_PIECE` letters are skipped rather than matched by chance."""
    wanted, _ = _letters(quote)
    text, where = _letters(page)
    ranges: list[tuple[int, int]] = []
    found = qi = after = 0
    while qi < len(wanted):
        at, n = _longest_prefix(wanted[qi:], text, after)
        if n < _MIN_PIECE:
            at, n = _longest_prefix(wanted[qi:], text, 0)
        if n < _MIN_PIECE:
            qi += 1
            continue
        ranges.append((where[at], where[at + n - 1] + 1))
        found += n
        qi += n
        after = at + n
    return _merged(ranges, page), (found / len(wanted) if wanted else 0.0)


def _longest_prefix(wanted: str, text: str, start: int) -> tuple[int, int]:
    """(position, length) of the longest prefix of `wanted` found in `text` from `start`."""
    low, high, best = 0, len(wanted), (-1, 0)
    while low < high:  # a prefix that is found has every shorter prefix found too
        middle = (low + high + 1) // 2
        at = text.find(wanted[:middle], start)
        if at >= 0:
            low, best = middle, (at, middle)
        else:
            high = middle - 1
    return best


def _merged(ranges: list[tuple[int, int]], page: str) -> list[tuple[int, int]]:
    """Neighbouring ranges joined when only spaces and punctuation stand between them."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and not any(c.isalnum() for c in page[merged[-1][1] : start]):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


Rect = tuple[float, float, float, float]  # left, bottom, right, top in PDF points


def _line_rects(rects: list[Rect]) -> list[Rect]:
    """pdfium gives a rectangle per text run (often per word); runs on one line, close
    together, become one box, as a reader's highlighter would draw it."""
    lines: list[Rect] = []
    for left, bottom, right, top in rects:
        if lines:
            l0, b0, r0, t0 = lines[-1]
            line_height = max(t0 - b0, top - bottom)
            same_line = abs(bottom - b0) < 0.5 * line_height and abs(top - t0) < 0.5 * line_height
            if same_line and -line_height < left - r0 < 1.5 * line_height:
                lines[-1] = (min(l0, left), min(b0, bottom), max(r0, right), max(t0, top))
                continue
        lines.append((left, bottom, right, top))
    return lines


@dataclass(frozen=True)
class Highlight:
    """The quote's boxes on a page and the page's characters under them."""

    boxes: tuple[Box, ...]
    marked_text: str
    found: float  # share of the quote's letters and digits located on the page


def _highlight(page: Any, quote: str) -> Highlight:
    """Boxes over the quote's characters on a pdfium page."""
    width, height = page.get_size()
    textpage = page.get_textpage()
    ranges, found = align(quote, textpage.get_text_range()) if quote.strip() else ([], 0.0)
    rects = []
    for start, end in ranges:
        rects += [textpage.get_rect(i) for i in range(textpage.count_rects(start, end - start))]
    lines = _line_rects(rects)
    boxes = tuple(
        Box(left / width, 1 - top / height, (right - left) / width, (top - bottom) / height)
        for left, bottom, right, top in lines
    )
    marked = " ".join(textpage.get_text_bounded(*rect) for rect in lines)
    return Highlight(boxes, marked, found)


def pdf_highlight(path: Path, number: int, quote: str) -> Highlight:
    """Where the quote stands on page `number` (1-based), without rendering it."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        pdf = pdfium.PdfDocument(path)
        try:
            return _highlight(pdf[_index(number, len(pdf))], quote)
        finally:
            pdf.close()


def _index(number: int, count: int) -> int:
    if not 1 <= number <= count:
        raise ValueError(f"page {number} is not in this document (1-{count})")
    return number - 1


def pdf_marks(path: Path, number: int, quote: str) -> PageImage:
    """Page `number` (1-based) of the PDF rendered, with boxes over the quote's characters."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        pdf = pdfium.PdfDocument(path)
        try:
            page = pdf[_index(number, len(pdf))]
            highlight = _highlight(page, quote)
            image = page.render(scale=_RENDER_WIDTH / page.get_size()[0]).to_pil()
            png = io.BytesIO()
            image.save(png, format="PNG", optimize=True)
            label = pdf.get_page_label(number - 1) or None
            return PageImage(
                number=number,
                label=label if label != str(number) else None,
                count=len(pdf),
                png=png.getvalue(),
                boxes=highlight.boxes,
                found=highlight.found,
                marked_text=highlight.marked_text,
            )
        finally:
            pdf.close()
