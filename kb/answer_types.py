"""What a question asks for, and whether a sentence carries it: a duration for "how long",
a number or amount for "how many", a reason for "why", a condition for "can I". The
extractive composer prefers sentences that carry it over ones that only restate the topic."""

from __future__ import annotations

import re

_NUMBER = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|twelve|eighteen|twenty"
    r"|thirty|fifty|hundred|half|a few|several)"
)
_UNIT = r"(?:working |calendar )?(?:days?|weeks?|months?|years?|hours?)"

ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (  # how long: a duration
        re.compile(r"\bhow (long|soon|quickly)\b|\bwhat (is the )?(period|duration)\b", re.I),
        re.compile(rf"\b{_NUMBER}[\s-]+{_UNIT}\b|\bfortnight\b|\bwithin\b|\bup to\b", re.I),
    ),
    (  # how many / how much: a number or an amount
        re.compile(
            r"\bhow (many|much)\b|\bwhat (share|proportion|percentage|number|amount)\b", re.I
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
    r"|changed (since|between|from))\b|\bbetween\b.+\band\b",
    re.I,
)


def compares(question: str) -> bool:
    """Whether the question asks to compare (two documents, two times, two schemes)."""
    return bool(_COMPARISON.search(question))


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
