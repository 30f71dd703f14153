"""Time in a question: "in November 2024", "since 2023", "before 2022", "the latest
conference" become a date range and an order, so dated items are found by their date rather
than by words they may not contain.

`time_frame(question)` reads the expressions; `TimeFrame.merged(filters)` narrows the
caller's own filters (an explicit filter always wins where the two disagree); `topic(question)`
is what is left to search for once the time words are gone.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from kb.text import terms
from kb.types import SearchFilters

_MONTHS = {
    name.lower(): number
    for number in range(1, 13)
    for name in (calendar.month_name[number], calendar.month_abbr[number])
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?:19|20)\d\d"
_IN_MONTH = re.compile(rf"\b(?:in|during|of|from)?\s*({_MONTH})\.?\s+({_YEAR})\b", re.I)
_FROM_WORDS = "since|after|as of"
_TO_WORDS = "before|until|till|prior to|up to"
_SINCE = re.compile(rf"\b({_FROM_WORDS})\s+(?:({_MONTH})\.?\s+)?({_YEAR})\b", re.I)
_BEFORE = re.compile(rf"\b({_TO_WORDS})\s+(?:({_MONTH})\.?\s+)?({_YEAR})\b", re.I)
_IN_YEAR = re.compile(rf"\b(?:in|during|of|for|from)\s+({_YEAR})\b", re.I)
_LATEST = re.compile(r"\b(latest|most recent|newest|last|recent(?:ly)?|current)\b", re.I)
# Words that ask "what is there" rather than name a topic: with a date range alone they ask
# for what the library holds from then.
_GENERIC = frozenset(
    terms(
        "what happened happen news new items item publish published publications release "
        "released event events going library hold holds announce announced there anything "
        "latest recent most last current month year"
    )
)


@dataclass(frozen=True)
class TimeFrame:
    """A question's time: a date range, and whether the newest comes first."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    newest_first: bool = False
    # A date may be the subject's ("what changed since November 2023", "how many arrived
    # in 2020"), not the document's: it limits what is searched only when the question is
    # about publications ("what has the network published since 2023").
    strict: bool = False

    @property
    def empty(self) -> bool:
        return not (self.date_from or self.date_to or self.newest_first)

    @property
    def ranged(self) -> bool:
        return bool(self.date_from or self.date_to)

    def merged(self, filters: SearchFilters | None) -> SearchFilters:
        """The caller's filters narrowed to this range; the caller's own dates stay when set,
        and a range that would leave nothing is not applied."""
        base = filters or SearchFilters()
        date_from = base.date_from or self.date_from
        date_to = base.date_to or self.date_to
        if date_from and date_to and date_from > date_to:
            return base
        return base.model_copy(update={"date_from": date_from, "date_to": date_to})


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


_ABOUT_PUBLICATIONS = re.compile(
    r"\b(publish\w*|news|announc\w*|releas\w*|items?|posts?|articles?|briefs?|informs?"
    r"|publications?|events?|took place|held)\b",
    re.I,
)


class Events:
    """Named events a question may date itself by ("before the New Pact", "since Brexit"),
    from the library's `events.csv` (name, date, aliases separated by ";")."""

    def __init__(self, dates: dict[str, dt.date]) -> None:
        self._dates = {name.lower(): date for name, date in dates.items()}
        names = "|".join(re.escape(n) for n in sorted(self._dates, key=len, reverse=True))
        self._pattern = re.compile(
            rf"\b({_FROM_WORDS}|{_TO_WORDS})\s+(?:the\s+)?({names})\b",
            re.I,
        ) if names else None  # fmt: skip

    @classmethod
    def read(cls, path: Path) -> Events:
        """The events in a CSV file; none when there is no file."""
        if not path.is_file():
            return cls({})
        dates: dict[str, dt.date] = {}
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                date = dt.date.fromisoformat(row["date"].strip())
                for name in [row["name"], *(row.get("aliases") or "").split(";")]:
                    if name.strip():
                        dates[name.strip()] = date
        return cls(dates)

    def dated(self, question: str) -> str:
        """The question with each event it dates itself by replaced by the event's month:
        "before the New Pact" reads "before September 2020"."""
        if self._pattern is None:
            return question
        return self._pattern.sub(
            lambda m: f"{m.group(1)} {self._dates[m.group(2).lower()]:%B %Y}", question
        )


NO_EVENTS = Events({})


def time_frame(question: str, events: Events = NO_EVENTS) -> TimeFrame:
    """The date range and order a question asks for (empty when it names no time); strict
    when it asks about what was published or held then. Named events are read as their
    month ("since Brexit": since January 2020)."""
    question = events.dated(question)
    frame = _frame(question)
    if frame.ranged and _ABOUT_PUBLICATIONS.search(question):
        return TimeFrame(frame.date_from, frame.date_to, frame.newest_first, strict=True)
    return frame


def _period(month: str | None, year: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a month ("November", "2024") or of a whole year."""
    if month is None:
        return dt.date(int(year), 1, 1), dt.date(int(year), 12, 31)
    return _month_range(int(year), _MONTHS[month.lower()])


def _frame(question: str) -> TimeFrame:
    newest = bool(_LATEST.search(question))
    if m := _SINCE.search(question):  # since / as of a period: from its start; after: its end
        first, last = _period(m.group(2), m.group(3))
        after = m.group(1).lower() == "after"
        return TimeFrame(date_from=last + dt.timedelta(days=1) if after else first,
                         newest_first=newest)  # fmt: skip
    if m := _BEFORE.search(question):  # before a period: to its start; until: to its end
        first, last = _period(m.group(2), m.group(3))
        through = m.group(1).lower() in ("until", "till", "up to")
        return TimeFrame(date_to=last if through else first - dt.timedelta(days=1),
                         newest_first=newest)  # fmt: skip
    if m := _IN_MONTH.search(question):
        return TimeFrame(*_period(m.group(1), m.group(2)), newest)
    if m := _IN_YEAR.search(question):
        return TimeFrame(*_period(None, m.group(1)), newest)
    return TimeFrame(newest_first=newest)


def topic(question: str) -> set[str]:
    """The question's content words (stemmed) that are neither time nor 'what happened'."""
    without = _IN_MONTH.sub(" ", _SINCE.sub(" ", _BEFORE.sub(" ", _IN_YEAR.sub(" ", question))))
    return {t for t in terms(without) if t not in _GENERIC and not t.isdigit()}


def named_years(question: str) -> set[str]:
    """Years the question asks about (not the bounds of "since 2023" or "before 2022"): an
    answer must come from a passage that names the year or a document dated then."""
    bounds = {m.group(3) for pattern in (_SINCE, _BEFORE) for m in pattern.finditer(question)}
    return set(re.findall(rf"\b{_YEAR}\b", question)) - bounds


def named_months(question: str) -> set[tuple[int, int]]:
    """Months the question asks about, as (year, month) ("in December 2015"; not the bounds
    of "since November 2023"): an answer must come from a passage that names the month or a
    document dated in it."""
    bounds = {
        (int(m.group(3)), _MONTHS[m.group(2).lower()])
        for pattern in (_SINCE, _BEFORE)
        for m in pattern.finditer(question)
        if m.group(2)
    }
    named = {(int(m.group(2)), _MONTHS[m.group(1).lower()]) for m in _IN_MONTH.finditer(question)}
    return named - bounds


def names_month(text: str, year: int, month: int) -> bool:
    """Whether the text names that month of that year ("December 2015", "Dec. 2015",
    "1 December 2015", "December 1, 2015", "12/2015")."""
    for m in _IN_MONTH.finditer(text):
        if int(m.group(2)) == year and _MONTHS[m.group(1).lower()] == month:
            return True
    us_style = rf"\b({_MONTH})\.? \d{{1,2}}(?:st|nd|rd|th)?,? {year}\b"
    if any(_MONTHS[m.group(1).lower()] == month for m in re.finditer(us_style, text, re.I)):
        return True
    return re.search(rf"\b0?{month}[./-]{year}\b", text) is not None
