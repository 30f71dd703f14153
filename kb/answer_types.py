"""What a question asks for, and whether a sentence carries it: a duration for "how long",
a number or amount for "how many", a reason for "why", a condition for "can I". The
extractive composer prefers sentences that carry it over ones that only restate the topic."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from kb.text import terms

_NUMBER = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|twelve|eighteen|twenty"
    r"|thirty|fifty|hundred|half|a few|several)"
)
_UNIT = r"(?:working |calendar )?(?:days?|weeks?|months?|years?|hours?|minutes?|seconds?)"
_MONTH = (
    r"(?:january|february|march|april|june|july|august|september|october|november|december"
    r"|\d{1,2} may|may \d{4})"  # "may" alone is the verb
)

ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (  # how long: a duration
        re.compile(r"\bhow (long|soon|quickly)\b|\bwhat (is the )?(period|duration)\b", re.I),
        re.compile(rf"\b{_NUMBER}[\s-]+{_UNIT}\b|\bfortnight\b|\bwithin\b|\bup to\b", re.I),
    ),
    (  # when / from which date: a date, a month or a year
        re.compile(r"\b(since )?when\b|\b(what|which) (exact )?(date|day|month|year)\b", re.I),
        re.compile(rf"\b(?:19|20)\d\d\b|\b{_MONTH}\b|\b\d{{1,2}}[./]\d{{1,2}}[./]\d\d", re.I),
    ),
    (  # how many / how much / what salary: a number or an amount
        re.compile(
            r"\bhow (many|much)\b|\bwhat (share|proportion|percentage|number|amount)\b"
            r"|\bwhat (\w+ )?(salary|salaries|fees?|charges?|costs?|price|budget|threshold)\b",
            re.I,
        ),
        re.compile(rf"\b{_NUMBER}\b|%|\bper ?cent\b|€|£|\$|\beuros?\b|\bpounds?\b", re.I),
    ),
    (  # why: a reason
        re.compile(r"\bwhy\b|\bwhat (is|was|are|were) the reasons?\b", re.I),
        re.compile(
            r"\b(because|due to|owing to|as a result|since|in order to|so that|reasons?"
            r"|driven by|motivat\w*|lack of|concern\w*|reluctan\w*)\b",
            re.I,
        ),
    ),
    (  # can I / may I / is it possible: a condition
        re.compile(r"^\s*(can|may|could|am|is it possible|do i need|must)\b", re.I),
        re.compile(
            r"\b(if|only|must|provided|unless|as long as|eligible|entitled|allowed|permitted"
            r"|may|can|cannot|required?|conditions?)\b",
            re.I,
        ),
    ),
)


def carries_answer(question: str, sentence: str) -> bool | None:
    """Whether the sentence has what the question asks for; None when the question asks for
    none of these kinds."""
    for asks, carries in ANSWER_TYPES:
        if asks.search(question):
            return bool(carries.search(sentence))
    return None


_COMPARISON = re.compile(
    r"\b(compar\w*|differ\w*|versus|vs\.?|contrast\w*|(how|what) (has|have) changed"
    r"|changed (since|between|from)|(dis)?agree|(each|both) (describe|say|see|define|explain"
    r"|treat|put|present|rate)\w*)\b|\bbetween\b.+\band\b"
    # Two things named and set side by side: "do both X and Y", "X and Y both", "does either",
    # "give the same ... as" (not "is the threshold the same for ...", one thing asked about).
    r"|\bboth\b[^?]*\band\b|\band\b[^?]*\b(both|either|the same)\b|\bthe same\b[^?]*\bas\b",
    re.I,
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def compares(question: str) -> bool:
    """Whether the question asks to compare (two documents, two times, two schemes): in words,
    or by naming two years ("Did the 2020 brief already call for it, as the 2025 conference
    did?")."""
    return bool(_COMPARISON.search(question)) or len(set(_YEAR.findall(question))) > 1


_ASKS_AMOUNT = re.compile(
    r"\bhow much\b.*\b(cost|costs|charge|charges|pay|fee|fees|price|budget)\b"
    r"|\bwhat (is|was|are|were) the (total |overall )?(cost|fee|fees|price|budget|charge)s?\b",
    re.I,
)
_AMOUNT = re.compile(
    r"(€|£|\$|\b(eur|euros?|gbp|pounds?|usd|dollars?)\b)\s?\d|\d[\d,.]*\s?(€|£|\b(eur|euros?|gbp"
    r"|pounds?|usd|dollars?|million|billion)\b)",
    re.I,
)


def lacks_amount(question: str, passages: list[str]) -> bool:
    """Whether the question asks what something costs and no passage states an amount of
    money: a passage on the exam without its fee does not say what it costs."""
    return bool(_ASKS_AMOUNT.search(question)) and not any(_AMOUNT.search(p) for p in passages)


# What exactly a question is after, and how to tell a sentence that has it (`pinpoints`).
_HOW_MANY = re.compile(r"\bhow many ((?:[\w-]+ ){0,2}[\w-]+)", re.I)
_COUNT = re.compile(rf"\b{_NUMBER}(?:[-\s]odd|\+)?\s+((?:[\w-]+\s+){{0,2}}[\w-]+)", re.I)
_ASKS_MONTH = re.compile(r"\b(what|which) month\b", re.I)
_MONTH_NAMED = re.compile(rf"\b{_MONTH}\b", re.I)
_ASKS_DATE = re.compile(  # not "when does": that is often "in which case"
    r"\b(since|from|until|by|on|as of) (when|what date|which date)\b"
    r"|\b(what|which) (exact )?(date|day)\b|\bwhen (did|will|was|were)\b",
    re.I,
)
# A date finer than a year: "1 June 2024", "21-22 November", "June 8th 2020", "June 2024".
_DAY_DATE = re.compile(
    rf"\b\d{{1,2}}(st|nd|rd|th)?(\s?[-–]\s?\d{{1,2}}(st|nd|rd|th)?)? (of )?{_MONTH}\b"
    rf"|\b{_MONTH} \d{{1,2}}(st|nd|rd|th)?\b|\b{_MONTH},? (?:19|20)\d\d\b"
    r"|\b\d{1,2}[./]\d{1,2}[./](?:19|20)?\d\d\b",
    re.I,
)
# "How much" is money unless it is time; "what charge" may ask which charge, not how much.
_ASKS_MONEY = re.compile(
    r"\bhow much\b(?! (time|longer|sooner|earlier|later))"
    r"|\bwhat (is|was|are|were) the (\w+ )?(salary|fee|cost|price|budget|threshold)s?\b"
    r"|\bwhat (\w+ )?salary\b",
    re.I,
)


def _counts(counted: str) -> Callable[[str], bool]:
    wanted = set(terms(counted))
    return lambda sentence: any(wanted & set(terms(m.group(1))) for m in _COUNT.finditer(sentence))


def _has(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda sentence: pattern.search(sentence) is not None


_ASKS_DURATION = re.compile(r"\bhow (long|soon|quickly)\b", re.I)
# "20 hours per week" is a rate, not how long something lasts.
_DURATION = re.compile(
    rf"\b(?:{_NUMBER}|an?)[\s-]+{_UNIT}\b(?!\s+(per|a|an|each)\b)|\bfortnight\b", re.I
)


def _precise_kind(question: str) -> Callable[[str], bool] | None:
    """A test for sentences with exactly what the question is after, or None."""
    if counted := _HOW_MANY.search(question):
        return _counts(counted.group(1))
    if _ASKS_DURATION.search(question):
        return _has(_DURATION)
    if _ASKS_MONTH.search(question):
        return _has(_MONTH_NAMED)
    if _ASKS_DATE.search(question):
        return _has(_DAY_DATE)
    if _ASKS_MONEY.search(question):
        return _has(_AMOUNT)
    return None


def asks_precisely(question: str) -> bool:
    """Whether the question is after a count, a duration, a month, a date or an amount of money."""
    return _precise_kind(question) is not None


def pinpoints(question: str, sentence: str) -> bool | None:
    """Whether the sentence has exactly the kind of thing asked: a count of what "how many"
    counts ("how many members" / "over 220 members"), a length of time for "how long" ("up
    to 5 years"; "20 hours per week" is a rate), a month for "which month", a date
    finer than a year for "since when" or "from what date", an amount of money for "what
    fee"; None when the question asks for none of these. Stronger than `carries_answer`: a
    sentence on the topic that holds some other number, or only a year, does not pinpoint."""
    kind = _precise_kind(question)
    return None if kind is None else bool(kind(sentence))


def lacks_pinpoint(question: str, passages: Sequence[str]) -> bool:
    """Whether the question is after a count, a duration, a date, a month or an amount of
    money and no passage has one: "How many participants attended the 2025 conference?"
    against passages that count only the 2024 conference's."""
    kind = _precise_kind(question)
    return kind is not None and not any(kind(passage) for passage in passages)


_ASKS_IN_FORCE = re.compile(
    r"\b(appl(y|ies|ied)|in force|into force|take effect|effective)\b", re.I
)
# How legal texts say when they start to apply; a question for that date rarely says it so.
_IN_FORCE_WORDS = "shall apply from entered into force come into effect"


def in_force_terms(question: str) -> str:
    """Words to look for besides the question's when it asks from what date a rule applies
    ("From what date has the DSA applied?": "This Regulation shall apply from ...")."""
    asks = _ASKS_DATE.search(question) and _ASKS_IN_FORCE.search(question)  # "since when" too
    return _IN_FORCE_WORDS if asks else ""
