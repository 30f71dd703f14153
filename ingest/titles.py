"""A document's title when the catalogue gives none: the file's metadata title unless it is
noise, then the cover's largest type, then its first heading (prepare.py), then its name.

PDF metadata titles are often producer noise ("Microsoft Word - brief.docx"), a browser's
"Print ..." prefix or missing; the words set largest on the first page are what a reader
calls the document ("CHARTER OF FUNDAMENTAL RIGHTS OF THE EUROPEAN UNION"). Search sees the
title with every passage, so a wrong one ("ENC 364/6 Official Journal ...") costs recall.
"""

from __future__ import annotations

import math
import re
from typing import Any

_SMALL_WORDS = frozenset("a an and as at by for in of on or the to with".split())  # noqa: SIM905
_CAPITAL_WORDS = _SMALL_WORDS | {"act", "law", "new", "all", "are", "its", "not", "one"}
_MAX_TITLE = 160
# Cover type must stand out from the body text to be a title and not a paragraph.
_MIN_SIZE_RATIO = 1.1
_MAX_COVER_TEXT = 300  # more text than this in the largest type is a paragraph


def useful_title(title: str | None) -> str | None:
    """The title, tidied, or None when it is noise rather than a title."""
    if not title:
        return None
    title = " ".join(title.split())
    # A browser's print of a web page: "Print Health and Care Worker visa - GOV.UK".
    title = re.sub(r"^Print\s+(?=.+ - \S+$)", "", title)
    # Producer noise, not titles: "Microsoft Word - brief.docx", "PowerPoint-Präsentation",
    # "Publications Office", file names ("wp251rev_en"), single words ("Authors",
    # "REGULATIONS"), numbers ("C/2023/1392"), letter-spaced type ("r e f u g e e s").
    words = re.findall(r"[^\W\d_]{3,}", title)
    if len(title) < 4 or len(words) < 2:
        return None
    if sum(len(w) == 1 for w in title.split()) > len(title.split()) / 2:
        return None
    if re.match(r"(?i)^(microsoft \w+ - |untitled|powerpoint|publications office$)", title):
        return None
    if re.search(r"(?i)\.(docx?|pdf|pptx?|indd)$", title) or re.fullmatch(
        r"[\w.-]*_[\w.-]*", title
    ):
        return None
    if len(title) > _MAX_TITLE:
        title = title[:_MAX_TITLE].rsplit(" ", 1)[0] + "…"
    return _title_case(title) if title.isupper() else title


def _title_case(title: str) -> str:
    """CHARTER OF FUNDAMENTAL RIGHTS -> Charter of Fundamental Rights (acronyms stay)."""
    words = title.split()
    out = []
    for i, word in enumerate(words):
        lower = word.lower()
        if re.fullmatch(r"\([A-Z]+\)|[A-Z]{2,3}[,.:;]?", word) and lower not in _CAPITAL_WORDS:
            out.append(word)  # (EU), UK, (ECHR); but not DATA, ACT
        elif i and lower in _SMALL_WORDS:
            out.append(lower)
        else:
            out.append(lower[:1].upper() + lower[1:])
    return " ".join(out)


def cover_title(page: Any) -> str | None:
    """The text set in the largest type on a pypdf page, if it reads as a title."""
    runs: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            # The size on paper: the font size scaled by the text and page matrices.
            scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
            runs.append((round(size * scale, 1), " ".join(text.split())))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:
        return None
    sizes = sorted({size for size, _ in runs}, reverse=True)
    # The two largest sizes, if they stand out from the smallest: the first that reads as a
    # title wins (an infographic's big step numbers or an OJ issue number come first).
    for size in sizes[:2]:
        if size < sizes[-1] * _MIN_SIZE_RATIO:
            break
        text = " ".join(t for s, t in runs if s == size)
        if len(text) <= _MAX_COVER_TEXT and (title := useful_title(text)):
            return title
    return None
