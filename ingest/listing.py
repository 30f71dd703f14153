"""Listing pages (news pages, network pages) are not one document: split them into dated items.

A listing is text whose items each start with a date alone on a line ("30 January 2025").
Each item becomes its own document with its own date, title and type. A bullet teaser that
repeats the item's body is dropped, and an item that appears on two listing pages is kept once
(its id comes from its date and text).

The source pages give no headlines of their own, so a title is the item's headline line when
it has one, else its first sentence shortened the way an editor would: the opener ("On 5th
September 2023, ") dropped, then cut at a clause, and only failing that at a word, with "…".
An item that states standing facts (who may join the network) is a page, not news.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from kb.types import DocType

_DATE_LINE = re.compile(r"^\s*(\d{1,2}) ([A-Z][a-z]+) (\d{4})\s*$", re.M)
_MONTHS = {dt.date(2000, m, 1).strftime("%B"): m for m in range(1, 13)}
_TEASER = re.compile(r"^\s*[•▪●]\s*(.+)$")
_GENERIC_HEADINGS = {"background", "documents", "photo gallery", "introduction", "summary"}
_MIN_ITEMS = 3
_HEADLINE_MAX = 90
# A clause shorter than this is an opener ("On 5th September 2023"), not the news.
_MIN_CLAUSE = 40
# Words a cut title must not end on: "... an event in Dakar on…" reads as a cut word.
_DANGLING = frozenset(
    "a an and as at but by for from in into its of on or than that the their to which who "  # noqa: SIM905
    "with".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘'(])")
# Where a sentence's leading clause ends and the title may stop: a semicolon, a dash or a
# colon, or a comma before a subordinate clause. Not any comma: "Speakers from legal firms,
# multinational companies" stops inside a list.
_CLAUSE_END = re.compile(
    r";\s|\s[–—-]\s|:\s|,\s(?=(?:as|which|while|whereas|where|when|who|whose|but|although"
    r"|though|because|including|providing)\b)"
)
# A when-or-where opener a headline leaves out when the sentence is too long: "On 5th
# September 2023, ", "At a recent expert panel held during ICMPD’s Vienna Migration
# Conference, ". The item's date says when.
_OPENER = re.compile(
    r"^(?:On|In|At|After|During|Following|Since|Launched|Founded|Under|Over)\b"
    r"[^,]{0,80}?(?:, \d{4})?, (?=\w)"
)
# What membership and "about us" pages say, and news items do not.
_PAGE_CUES = re.compile(
    r"(?i)\b(eligib\w*|membership|registered members|members-only|is open to"
    r"|visit the [\w ]*web ?page)\b"
)


@dataclass(frozen=True)
class ListingItem:
    date: dt.date
    title: str
    text: str
    doc_type: DocType = DocType.news

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


def _is_headline(line: str) -> bool:
    """A short line with no closing punctuation that is more than a date or a label."""
    return (
        len(line) <= _HEADLINE_MAX
        and not line.endswith((".", ",", ":", ";", "?", "!"))
        and line.lower() not in _GENERIC_HEADINGS
        and not _TEASER.match(line)
        and len(re.findall(r"[^\W\d_]{3,}", line)) >= 2  # not "19-20 November 2024"
    )


def _balanced(text: str) -> bool:
    """No bracket or quotation left open: a title must not stop inside one."""
    return (
        text.count("(") == text.count(")")
        and text.count("“") == text.count("”")
        and text.count('"') % 2 == 0
    )


def _cut_at_word(text: str, limit: int) -> str:
    """The text cut at the last whole word under the limit, without a dangling "of the" or
    an open bracket or quote, and marked as cut."""
    words = text[: limit + 1].rsplit(" ", 1)[0].split(" ")
    while words and (words[-1].lower() in _DANGLING or not _balanced(" ".join(words))):
        words.pop()
    return " ".join(words).rstrip(",;:–—- ") + "…"


def _lead(line: str) -> str:
    """The first sentence when it is short enough, else its leading clause, else the sentence
    cut at a word (the only case marked "…")."""
    sentence = _SENTENCE_END.split(line, maxsplit=1)[0].rstrip(".")
    if len(sentence) <= _HEADLINE_MAX:
        return sentence
    if opener := _OPENER.match(sentence):
        rest = sentence[opener.end() :]
        sentence = rest[0].upper() + rest[1:]
    if len(sentence) <= _HEADLINE_MAX:
        return sentence
    ends = [
        m.start()
        for m in _CLAUSE_END.finditer(sentence, 0, _HEADLINE_MAX + 1)
        if m.start() >= _MIN_CLAUSE and _balanced(sentence[: m.start()])
    ]
    if ends:
        return sentence[: ends[-1]]
    return _cut_at_word(sentence, _HEADLINE_MAX)


def _title(text: str) -> str:
    """A headline line of the item if it has one, else the lead of its first paragraph."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    headline = next((line for line in lines if _is_headline(line)), None)
    if headline:
        return headline
    for line in lines:
        line = line.lstrip("•▪● ").strip()
        if line.lower() not in _GENERIC_HEADINGS:
            return _lead(line)
    return "Untitled item"


def _doc_type(text: str) -> DocType:
    """A page for an item that describes standing facts (who may join, where to find what);
    news for the rest, which report what happened."""
    return DocType.page if _PAGE_CUES.search(text) else DocType.news


def split_listing(text: str) -> list[ListingItem]:
    """The dated items of a listing page, in page order."""
    marks = [(m, d) for m in _DATE_LINE.finditer(text) if (d := _parse_date(m))]
    items = []
    for i, (m, date) in enumerate(marks):
        end = marks[i + 1][0].start() if i + 1 < len(marks) else len(text)
        body = _drop_teaser(text[m.end() : end])
        if body:
            items.append(
                ListingItem(date=date, title=_title(body), text=body, doc_type=_doc_type(body))
            )
    return items
