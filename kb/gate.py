"""The evidence gate: does any of the top passages really answer the question?

Two checks, both on the passages the caller may see:
- closeness: the best cosine similarity plus the best share of the question's content words
  found in a passage (kb.text.terms, the words BM25 matches on) must reach a threshold;
- names: a rare capitalised word of the question that none of the passages mentions
  ("Dutch", asked of a library on the German Blue Card) makes the answer abstain.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass
from functools import lru_cache

from kb.acronyms import spelled_in
from kb.answer_types import compares, lacks_amount, lacks_pinpoint
from kb.glossary import english_for, looks_german
from kb.library import Library
from kb.numbers import canonical
from kb.settings import AnswerSettings
from kb.text import STOP_WORDS, index_text, terms
from kb.types import Access, Hit
from kb.when import named_months, named_years, names_month

_TOP = 3  # the gate looks at the top three passages


@dataclass(frozen=True)
class Evidence:
    """How well the best passages support an answer: what the gate decides on."""

    similarity: float
    coverage: float

    def score(self, coverage_weight: float) -> float:
        """One number from both signals: a passage close in meaning that also holds the
        question's words. Neither alone separates the gold set's unanswerable questions from
        the answerable ones; their sum does, with a margin (bench/calibrate_gate.py)."""
        return self.similarity + coverage_weight * self.coverage


@dataclass(frozen=True)
class Verdict:
    """The gate's decision and why."""

    evidence: Evidence
    missing_names: tuple[str, ...] = ()
    answerable: bool = True


@lru_cache(maxsize=2048)  # a few MB: passages and sentences of recent questions
def stems(text: str) -> frozenset[str]:
    """The stemmed content words, durations spelled one way ("half a year" = "6 months").
    Cached: the gate and the composer read the same passages and sentences per question."""
    return frozenset(terms(canonical(text)))


def searched_stems(hit: Hit) -> frozenset[str]:
    """The stemmed words search matched the passage on: title, section, text, acronyms."""
    return stems(index_text(hit.citation.title, hit.section, hit.text, hit.aliases))


def _coverage(wanted: Set[str], found: Set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


def term_coverage(question: str, passage: str) -> float:
    """Share of the question's content words (stemmed) present in the passage."""
    return _coverage(stems(question), stems(passage))


def evidence(question: str, hits: Sequence[Hit], top: int = _TOP) -> Evidence:
    """The best similarity and the best term coverage among the top passages."""
    best = hits[:top]
    wanted = stems(question)
    similarity = max((h.similarity or 0.0 for h in best), default=0.0)
    coverage = max((_coverage(wanted, searched_stems(h)) for h in best), default=0.0)
    if compares(question) and best:
        # Each side of a comparison stands in a passage of its own: their words count together.
        together = set().union(*(searched_stems(h) for h in best))
        coverage = max(coverage, _coverage(wanted, together))
    return Evidence(similarity=similarity, coverage=coverage)


# Capitalised but no name to look for: a month is a date (kb/when.py reads it), "OK" a word,
# "I'll" a contraction.
_NOT_NAMES = frozenset([
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "ok", "i'll", "i'm", "i've", "i'd",
])  # fmt: skip


def question_names(question: str) -> list[str]:
    """Capitalised words of two letters or more that do not start a sentence, in an English
    question that is not typed in title case (German capitalises every noun)."""
    tokens = list(re.finditer(r"[\w'’-]+", question))
    words = [m.group() for m in tokens]
    starts = {m.end() - 1 for m in re.finditer(r"(?:^|[.!?:;]\s+)[^\w]*\w", question)}
    names = [
        m.group()
        for m in tokens
        if m.group()[0].isupper()
        and m.start() not in starts
        and m.group().lower().replace("’", "'") not in STOP_WORDS | _NOT_NAMES
        and stems(m.group())  # "X" in "Annex X" is no name to look for
    ]
    english = sum(w.lower() in STOP_WORDS for w in words) >= len(words) / 5
    title_case = sum(w[0].isupper() for w in words) > len(words) / 2
    if not english or title_case:
        return []
    return list(dict.fromkeys(names))


def rare_names(
    library: Library, question: str, access: tuple[Access, ...], rare_idf: float = 4.0
) -> list[str]:
    """The question's names that are rare among the passages the caller may see. A German
    term the glossary does not know ("Betriebsrat") is not one: the English text would say it
    in English."""
    index = library.view()
    return [
        n
        for n in question_names(question)
        if index.rarity(n, access) >= rare_idf and (english_for(n) or not looks_german(n))
    ]


# British and American spellings of one word: a name asked one way counts when the passage
# spells it the other ("Organization" / "Organisation", "Labor" / "Labour").
_SPELLINGS = (
    ("isation", "ization"), ("ise", "ize"), ("our", "or"), ("tre", "ter"), ("ence", "ense"),
    ("programme", "program"), ("yse", "yze"),
)  # fmt: skip


# A country and what its people and things are called: a question says "Belgian projects",
# a passage "projects in Belgium".
_COUNTRIES = {
    "belgian": "belgium", "german": "germany", "french": "france", "dutch": "netherlands",
    "italian": "italy", "spanish": "spain", "polish": "poland", "lithuanian": "lithuania",
    "estonian": "estonia", "nigerian": "nigeria", "moroccan": "morocco", "tunisian": "tunisia",
    "egyptian": "egypt", "senegalese": "senegal", "moldovan": "moldova", "ukrainian": "ukraine",
    "indian": "india", "filipino": "philippines", "british": "britain", "britain": "uk",
    "irish": "ireland", "swedish": "sweden", "danish": "denmark", "austrian": "austria",
    "portuguese": "portugal", "greek": "greece", "romanian": "romania", "bulgarian": "bulgaria",
    "ghanaian": "ghana", "kenyan": "kenya", "pakistani": "pakistan", "georgian": "georgia",
    "swiss": "switzerland", "norwegian": "norway", "finnish": "finland", "canadian": "canada",
    "japanese": "japan", "turkish": "turkey", "chinese": "china",
}  # fmt: skip


def spellings(word: str) -> set[str]:
    """The word, its other-side-of-the-Atlantic spellings, its country or people, and its
    English when it is German or French."""
    lower = re.sub(r"['’]s$", "", word.lower())  # "the Network's report"
    variants = {lower}
    if lower in _COUNTRIES:
        variants.add(_COUNTRIES[lower])
        variants |= {"kingdom", "uk"} if _COUNTRIES[lower] in ("britain", "uk") else set()
    variants |= {people for people, country in _COUNTRIES.items() if country == lower}
    for british, american in _SPELLINGS:
        if lower.endswith(british):
            variants.add(lower[: -len(british)] + american)
        if lower.endswith(american):
            variants.add(lower[: -len(american)] + british)
    if english := english_for(lower):  # "Ausländerbehörde": "foreigners authority"
        variants.add(english)
    return variants


def _mentions(hit: Hit, name: str) -> bool:
    found = searched_stems(hit)
    if any(stems(variant) & found for variant in spellings(name)):
        return True
    return spelled_in(name, index_text(hit.citation.title, hit.section, hit.text, hit.aliases))


def assess(
    library: Library,
    question: str,
    hits: Sequence[Hit],
    settings: AnswerSettings,
    access: tuple[Access, ...],
) -> Verdict:
    """Whether the passages answer the question, by both checks. The evidence is weighed
    only in passages that mention every rare name of the question: asked about the Swiss
    work permit, a passage on German Blue Card processing times is close in meaning and a
    passage listing Swiss nationals among others holds the name, but neither answers."""
    if not hits:
        return Verdict(evidence=evidence(question, hits), answerable=False)
    top = hits[:_TOP]
    names = rare_names(library, question, access, settings.rare_name_idf)
    missing = [n for n in names if not any(_mentions(hit, n) for hit in top)]
    if len(missing) < len(names):  # another name of the question anchors the passages
        shorthand = [n for n in missing if _code(n) and library.view().unknown(n, access)]
        names = [n for n in names if n not in shorthand]
        missing = [n for n in missing if n not in shorthand]
    comparison = compares(question)
    if not comparison:  # each side of a comparison names its own year
        months = named_months(question)  # "in December 2015": the month, not only its year
        years = named_years(question) - {str(year) for year, _ in months}
        missing += [y for y in sorted(years) if not any(_dated(h, y) for h in top)]
        missing += [
            f"{calendar.month_name[month]} {year}"
            for year, month in sorted(months)
            if not any(_in_month(h, year, month) for h in top)
        ]
    # A comparison's names stand in the passages of its two sides, not all in one.
    naming = top if comparison else [h for h in top if all(_mentions(h, n) for n in names)]
    found = evidence(question, naming)
    close = found.score(settings.coverage_weight) >= settings.min_evidence
    priced = not lacks_amount(question, [h.text for h in naming])
    # A question for a count, a duration, a date or an amount needs a passage that has one
    # (any of the passages the answer draws on: the number often stands in the fourth or
    # fifth).
    pinned = not lacks_pinpoint(question, [h.text for h in hits])
    answerable = close and not missing and priced and pinned
    return Verdict(evidence=found, missing_names=tuple(missing), answerable=answerable)


def _code(name: str) -> bool:
    """An acronym or a code ("FBI's", "EUDiF", "JT610"): asked beside a name the passages do
    hold ("the FBI's NICS figures"), one the library never uses is the reader's own shorthand
    for what it holds, not a different subject; a place or a country ("Lagos") still is."""
    name = re.sub(r"['’]s$", "", name)
    has_digit = any(c.isdigit() for c in name) and any(c.isalpha() for c in name)
    return sum(c.isupper() for c in name) >= 2 or has_digit


def _dated(hit: Hit, year: str) -> bool:
    """Whether a passage (its title included) names the year, or comes from a document dated
    in it."""
    named = year in hit.text or year in hit.citation.title
    return named or bool(hit.citation.date and str(hit.citation.date.year) == year)


def _in_month(hit: Hit, year: int, month: int) -> bool:
    """Whether a passage (its title included) names the month, or comes from a document
    dated in it, or in its year and names the month alone ("May" alone is the verb)."""
    date = hit.citation.date
    if date and (date.year, date.month) == (year, month):
        return True
    alone = rf"\b{calendar.month_name[month]}\b"  # "In February, ..." in that year's item
    if date and date.year == year and month != 5 and re.search(alone, hit.text):
        return True
    return names_month(hit.text, year, month) or names_month(hit.citation.title, year, month)
