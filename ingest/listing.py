"""Listing pages (news pages, network pages) are not one document: split them into dated items.

A listing is text whose items each start with a date alone on a line ("30 January 2025").
Each item becomes its own document with its own date and title. A bullet teaser that repeats
the item's body is dropped, and an item that appears on two listing pages is kept once (its
id comes from its date and text).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

_DATE_LINE = re.compile(r"^\s*(\d{1,2}) ([A-Z][a-z]+) (\d{4})\s*$", re.M)
_MONTHS = {dt.date(2000, m, 1).strftime("%B"): m for m in range(1, 13)}
_TEASER = re.compile(r"^\s*[•▪●]\s*(.+)$")
_GENERIC_HEADINGS = {"background", "documents", "photo gallery", "introduction", "summary"}
_MIN_ITEMS = 3


@dataclass(frozen=True)
class ListingItem:
    date: dt.date
    title: str
    text: str

    @property
    def key(self) -> str:
        """Stable id from date and content: the same item on two pages has one key."""
        normal = " ".join(re.findall(r"\w+", self.text.lower()))
        return f"{self.date.isoformat()}-{hashlib.sha1(normal.encode()).hexdigest()[:8]}"


def _parse_date(m: re.Match[str]) -> dt.date | None:
    month = _MONTHS.get(m.group(2))
    if month is None:
        return None
    try:
        return dt.date(int(m.group(3)), month, int(m.group(1)))
    except ValueError:
        return None


def is_listing(text: str) -> bool:
    """True when the text starts with a date line and holds several of them."""
    dates = [m for m in _DATE_LINE.finditer(text) if _parse_date(m)]
    return len(dates) >= _MIN_ITEMS and not text[: dates[0].start()].strip()


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _drop_teaser(body: str) -> str:
    """Drop a leading bullet teaser when the body that follows repeats most of it."""
    lines = body.strip().split("\n")
    m = _TEASER.match(lines[0]) if lines else None
    if not m:
        return body.strip()
    rest = "\n".join(lines[1:]).strip()
    teaser = _words(m.group(1))
    if rest and teaser and len(teaser & _words(rest)) / len(teaser) >= 0.6:
        return rest
    return body.strip()


def _title(text: str, limit: int = 100) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("•▪● ").strip()
        if not line or line.lower() in _GENERIC_HEADINGS:
            continue
        if len(line) <= limit and not line.endswith("."):
            return line
        sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
        if len(sentence) <= limit:
            return sentence.rstrip(".")
        return sentence[:limit].rsplit(" ", 1)[0] + "…"
    return "Untitled item"


def split_listing(text: str) -> list[ListingItem]:
    """The dated items of a listing page, in page order."""
    marks = [(m, d) for m in _DATE_LINE.finditer(text) if (d := _parse_date(m))]
    items = []
    for i, (m, date) in enumerate(marks):
        end = marks[i + 1][0].start() if i + 1 < len(marks) else len(text)
        body = _drop_teaser(text[m.end() : end])
        if body:
            items.append(ListingItem(date=date, title=_title(body), text=body))
    return items
