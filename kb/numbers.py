"""Numbers and durations said differently: "half a year" and "six months", "a fortnight" and
"two weeks", "6 months" and "six months". Keyword search and the evidence gate compare words
(of two letters or more: a lone digit is no word to them), so both sides are brought to one
spelling, in words, before they are compared.
"""

from __future__ import annotations

import re

_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "eighteen": 18, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}  # fmt: skip
# Durations said in words, as the number of a unit a text would more likely give.
_PHRASES = (
    (r"\bhalf an? year\b|\bhalf-year\b", "six months"),
    (r"\ba year and a half\b|\bone and a half years\b", "eighteen months"),
    (r"\btwo and a half years\b", "thirty months"),
    (r"\b(a|one) fortnight\b|\bfortnight\b", "two weeks"),
    (r"\b(a|one) quarter of a year\b", "three months"),
    (r"\ba decade\b", "ten years"),
    (r"\b(a|an) (day|week|month|year)\b", r"one \2"),
)
_COMPILED = tuple((re.compile(p, re.I), r) for p, r in _PHRASES)
_NAMES = {n: w for w, n in _WORDS.items()}
# A small number before a unit, in digits ("6 months", "14-day"): spelled as a word.
_DIGITS_UNIT = re.compile(r"\b(\d{1,3})[\s-]+(day|week|month|year|hour)(s?)\b", re.I)


def canonical(text: str) -> str:
    """The text with durations spelled one way, in words: 'six months', 'two weeks',
    'one year'. Only for comparing words, never shown or quoted."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)

    def spelled(m: re.Match[str]) -> str:
        number = int(m.group(1))
        word = _NAMES.get(number, m.group(1))
        return f"{word} {m.group(2)}{'s' if number != 1 else ''}"

    return _DIGITS_UNIT.sub(spelled, text)


def with_equivalents(query: str) -> str:
    """The query followed by its canonical spelling when that differs: keyword search then
    matches a passage written either way."""
    other = canonical(query)
    return query if other == query else f"{query} {other}"
