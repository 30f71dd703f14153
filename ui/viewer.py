"""The evidence viewer: the cited page with the quote highlighted where it stands.

A PDF page is rendered with boxes over the quote's own characters (kb/evidence.py); any other
document (a web page, a text, one item of a news listing) shows its cleaned text with the
quote marked. Either way the page scrolls to the quote (`#quote`). One self-contained HTML
page: the image inline, no script, a strict Content-Security-Policy, every piece of library
text escaped.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

from kb.evidence import PageImage, pdf_marks
from kb.types import Document, Page, Reference
from ui.contracts import reference_label
from ui.links import Links

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
_CSS = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f4f2; color: #222; }
header { background: #fff; border-bottom: 1px solid #ddd; padding: 0.6em 1.2em;
  position: sticky; top: 0; z-index: 2; }
header h1 { font-size: 1.15em; margin: 0 0 0.2em 0; }
.meta { color: #555; font-size: 0.9em; }
.meta a { color: #245; }
blockquote { max-width: 1000px; margin: 0.8em auto 0 auto; padding: 0.3em 0.8em;
  border-left: 4px solid #e0b000; background: #fff8dc; box-sizing: border-box; }
.note { color: #8a4b00; font-size: 0.9em; margin-top: 0.4em; }
.page { position: relative; margin: 1em auto; max-width: 1000px; box-shadow: 0 1px 4px #0003; }
.page img { display: block; width: 100%; }
.mark { position: absolute; background: rgba(255, 214, 0, 0.38);
  outline: 2px solid rgba(230, 160, 0, 0.9); border-radius: 2px; }
.anchor { position: absolute; scroll-margin-top: 40vh; }
.text { max-width: 46em; margin: 1em auto; background: #fff; padding: 1.5em 2em;
  white-space: pre-wrap; box-shadow: 0 1px 4px #0002; }
mark { background: #ffe36e; padding: 0.1em 0; scroll-margin-top: 40vh; }
nav { text-align: center; margin: 0.5em 0 2em 0; }
nav a { margin: 0 1em; color: #245; }
"""


@dataclass(frozen=True)
class ViewRequest:
    """What the viewer shows: a document's page and the stretch of its cleaned text to mark."""

    doc: Document
    page: Page
    start: int
    end: int
    links: Links


def render(request: ViewRequest) -> str:
    """The viewer's HTML for a PDF page or a text document."""
    if request.doc.content_type == "application/pdf" and request.page.number is not None:
        return _pdf_view(request)
    return _text_view(request)


def _quote(request: ViewRequest) -> str:
    return request.page.text[request.start : request.end]


def _header(request: ViewRequest, where: str) -> str:
    """The title, type, date and page, kept in view while the page scrolls."""
    doc = request.doc
    file_link = request.links.file(doc.doc_id, request.page.number)
    parts = [reference_label_for(doc), where]
    meta = " · ".join(html.escape(p) for p in parts if p)
    return (
        f"<header><h1>{html.escape(doc.title)}</h1>"
        f'<div class="meta">{meta} · <a href="{html.escape(file_link)}">open the original</a>'
        f"</div></header>"
    )


def _quoted(request: ViewRequest, note: str) -> str:
    """The quote as it was read, above the page image (where pdfium's text may differ)."""
    quote = _quote(request)
    if not quote.strip():
        return ""
    note_html = f'<div class="note">{html.escape(note)}</div>' if note else ""
    return f"<blockquote>{html.escape(quote)}{note_html}</blockquote>"


def reference_label_for(doc: Document) -> str:
    """'policy brief · 2020-11-04': the document's type and date as the citations say them."""
    ref = Reference(
        doc_id=doc.doc_id, title=doc.title, doc_type=doc.doc_type, date=doc.date, source=""
    )
    return reference_label(ref, with_page=False)


def _page_name(image: PageImage) -> str:
    printed = f" (printed {image.label})" if image.label else ""
    return f"page {image.number} of {image.count}{printed}"


def _pdf_view(request: ViewRequest) -> str:
    number = request.page.number or 1
    image = pdf_marks(Path(request.doc.source), number, _quote(request))
    note = ""
    if _quote(request).strip() and image.found < 0.6:
        note = (
            "The quote could not be placed exactly on this page image (the PDF's own text "
            "differs from what was read); its words are shown above."
        )
    marks = "".join(
        f'<div class="mark" style="left:{b.left:.4%};top:{b.top:.4%};width:{b.width:.4%};'
        f'height:{b.height:.4%}"></div>'
        for b in image.boxes
    )
    anchor = ""
    if image.boxes:
        anchor = f'<div class="anchor" id="quote" style="top:{image.boxes[0].top:.4%}"></div>'
    data = base64.b64encode(image.png).decode()
    alt = f"Page {number} of {request.doc.title}"
    body = (
        f'<div class="page">{anchor}<img src="data:image/png;base64,{data}" '
        f'alt="{html.escape(alt)}">{marks}</div>'
    )
    header = _header(request, _page_name(image)) + _quoted(request, note)
    return _document(request, header, body, image)


def _text_view(request: ViewRequest) -> str:
    text, start, end = request.page.text, request.start, request.end
    if end > start:
        body = (
            html.escape(text[:start])
            + f'<mark id="quote">{html.escape(text[start:end])}</mark>'
            + html.escape(text[end:])
        )
    else:
        body = html.escape(text)
    return _document(request, _header(request, ""), f'<div class="text">{body}</div>', None)


def _neighbours(request: ViewRequest, image: PageImage) -> list[str]:
    """Links to the previous and next pages, unmarked."""
    pages = [("previous page", image.number - 1), ("next page", image.number + 1)]
    return [
        f'<a href="{html.escape(request.links.view(request.doc.doc_id, n))}">{label}</a>'
        for label, n in pages
        if 1 <= n <= image.count
    ]


def _document(request: ViewRequest, header: str, body: str, image: PageImage | None) -> str:
    nav = "<nav>" + "".join(_neighbours(request, image)) + "</nav>" if image else ""
    title = html.escape(f"{request.doc.title} · evidence")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head>"
        f"<body>{header}{body}{nav}</body></html>"
    )
