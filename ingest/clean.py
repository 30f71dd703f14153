"""Text clean-up: pure functions from raw extracted text to the text we index and quote.

The order matters: normalise characters, drop running headers/footers (needs the page
structure), re-join hyphenated words, unwrap lines into paragraphs, drop repeated
pull-quotes, then find headings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kb.text import STOP_WORDS

_LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
}
_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
# Symbol-font bullets extracted as private-use characters.
_PRIVATE_USE_BULLET = re.compile(r"^[ \t]*[\ue000-\uf8ff]", re.M)
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_RUN_OF_SPACES = re.compile(r" {2,}")

# Page counters, removed at the top or bottom of a page only (elsewhere a lone number
# is a table cell): "Page 5 of 73", "5/73", "- 5 -".
_PAGE_COUNTER = re.compile(r"^\s*(page\s+)?\d{1,4}\s*(/|of)\s*\d{1,4}\s*$", re.I)
_BARE_NUMBER = re.compile(r"^\s*-?\s*(\d{1,4})\s*-?\s*$")
# Headings of a document's structure: never a running header, even on every page.
_STRUCTURE = re.compile(
    r"^\s*(article|chapter|section|annex|part|title|schedule|appendix)\s+[\dIVXLC]+\b", re.I
)
# Letter-spaced headings ("C O N V E N T I O N  A N D  P R O T O C O L"): letters one space
# apart, words two or more.
_LETTER_SPACED = re.compile(
    r"^[ \t]*(?:\w (?=\w)){3,}\w(?:[ \t]{2,}(?:\w (?=\w))*\w)*[ \t]*$", re.M
)
# Lines that are never content, wherever they are: web boilerplate.
_BOILERPLATE = [
    re.compile(r"This email address is being protected from spambots", re.I),
    re.compile(r"^\s*(Documents|Photo Gallery|Related Articles)\s*$", re.I),
]

# Prefixes that keep their hyphen when a word breaks after them ("multi-\nstakeholder").
_HYPHEN_PREFIXES = {
    "anti",
    "co",
    "cross",
    "fully",
    "high",
    "long",
    "low",
    "mid",
    "multi",
    "non",
    "post",
    "pre",
    "self",
    "semi",
    "short",
    "third",
    "well",
}
# Second halves that are words of their own in compounds ("migration-\nrelated").
_HYPHEN_TAILS = {
    "based",
    "friendly",
    "funded",
    "led",
    "level",
    "making",
    "oriented",
    "related",
    "scale",
    "specific",
    "term",
    "time",
    "up",
    "wide",
}
_HYPHEN_BREAK = re.compile(r"(\w+)-[ \t]*\n[ \t]*([a-z]\w*)")
# A line-end hyphen some PDFs extract as " - " inside the line ("profes - sional") or with
# a space before it at the end of the line ("appoint -\nment").
_SPACED_BREAK = re.compile(r"\b([a-z]{2,}) -(?: |[ \t]*\n[ \t]*)([a-z]{2,})\b")
_WORD_ENDINGS = (
    "ment",
    "tion",
    "sion",
    "ing",
    "ance",
    "ence",
    "ity",
    "ness",
    "ous",
    "ive",
    "able",
    "ible",
    "ally",
    "ional",
    "ized",
    "ised",
    "ation",
    "ical",
    "ure",
)

# Two words run together where HTML-to-text dropped the space between elements: a badge and
# its headline ("UpdatedCall for Proposals"), a possessive and the next name
# ("ICMPD’sVienna"). The head ends in lower case (or "’s"), the tail starts in upper case;
# not inside a web address ("?langId=").
_GLUED = re.compile(r"(?<![\w/=?&.#-])([A-Za-z]+[’']s|[A-Za-z]*[a-z]{2})([A-Z][A-Za-z]{2,})\b")

_SENTENCE_END = re.compile(r"[.!?:;)\]\"”’]$")
_BULLET = re.compile(r"^\s*([•▪◦●\-–*]|\d{1,2}[.)]|\(?[a-z]\))\s+")


@dataclass
class CleanStats:
    """Counters of what clean-up changed (reported by ingest and the text benchmark)."""

    hyphen_repairs: int = 0
    header_footer_lines: int = 0
    duplicate_paragraphs: int = 0
    glued_words: int = 0
    lines_in: int = 0

    def add(self, other: CleanStats) -> None:
        self.hyphen_repairs += other.hyphen_repairs
        self.header_footer_lines += other.header_footer_lines
        self.duplicate_paragraphs += other.duplicate_paragraphs
        self.glued_words += other.glued_words
        self.lines_in += other.lines_in


def _join_letters(m: re.Match[str]) -> str:
    words = re.split(r"[ \t]{2,}", m.group().strip())
    return " ".join(w.replace(" ", "") for w in words)


def normalise_characters(text: str) -> str:
    """Ligatures, non-breaking and odd spaces, soft hyphens, line endings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for lig, plain in _LIGATURES.items():
        text = text.replace(lig, plain)
    text = _PRIVATE_USE_BULLET.sub("•", text)
    text = _LETTER_SPACED.sub(_join_letters, text)
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text)


def split_glued_words(text: str, stats: CleanStats) -> str:
    """Put back the space between two run-together words ("UpdatedCall" -> "Updated Call").

    Only where both halves are words the text also uses on their own: names written in
    camel case ("JavaScript", "MGSoG", "LaMP") have halves that are not. For web text only:
    in PDFs this shape is mostly names ("SunEdison") and odd fonts ("parTies").
    """
    vocabulary = set(re.findall(r"[a-z]+", text.lower()))

    def split(m: re.Match[str]) -> str:
        head, tail = m.group(1), m.group(2)
        if re.sub(r"[’']s$", "", head).lower() in vocabulary and tail.lower() in vocabulary:
            stats.glued_words += 1
            return f"{head} {tail}"
        return m.group()

    return _GLUED.sub(split, text)


def _shape(line: str) -> str:
    # Running headers differ only in their numbers, and facing pages may order their parts
    # differently ("4/144 ELI: ..." and "ELI: ... 5/144", "OJ L, 12.7.2024 EN" and "EN OJ L").
    tokens = re.findall(r"[^\W\d_]+|#", re.sub(r"\d+(?:[/.,]\d+)*", "#", line.lower()))
    return " ".join(sorted(tokens))


def _running_shapes(
    split: list[list[str]], min_share: float, edge: int
) -> tuple[set[str], set[str]]:
    """Shapes repeated at page edges, and numbered ones repeated anywhere on most pages."""
    if len(split) < 3:
        return set(), set()
    at_edges: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for lines in split:
        content = [ln for ln in lines if ln.strip()]
        at_edges.update({_shape(ln) for ln in content[:edge] + content[-edge:]})
        anywhere.update({_shape(ln) for ln in content if len(ln) <= 100})
    threshold = max(3, int(min_share * len(split) + 0.999))
    # A shape with no word is a number: a page counter (handled apart) or a table cell.
    edges = {shape for shape, n in at_edges.items() if n >= threshold and shape.strip("# ")}
    # Footnotes can push a header away from the edge; a line with a number (a date, a
    # series) on nearly every page is a header wherever it sits. Table cells rarely are.
    spread = {
        shape
        for shape, n in anywhere.items()
        if n >= max(5, 0.8 * len(split)) and "#" in shape.split() and len(shape.split()) >= 3
    }
    return edges, spread


def _is_page_number(line: str, pages: int) -> bool:
    if _PAGE_COUNTER.match(line):
        return True
    # A lone number bigger than the page count is a table cell (a code, an amount).
    bare = _BARE_NUMBER.match(line)
    return bare is not None and int(bare.group(1)) <= pages + 20


def strip_running_lines(
    pages: Sequence[str], min_share: float, stats: CleanStats, edge: int = 3
) -> list[str]:
    """Drop lines repeated at the top or bottom of many pages, and page counters."""
    split = [p.split("\n") for p in pages]
    edges, spread = _running_shapes(split, min_share, edge)
    # Pages that are nothing but repeated lines (short forms, slides) have no running
    # header to find: keep the text rather than empty the document.
    total = sum(1 for lines in split for ln in lines if ln.strip())
    repeated = sum(1 for lines in split for ln in lines if ln.strip() and _shape(ln) in edges)
    if total and repeated > 0.9 * total:
        edges, spread = set(), set()
    cleaned = []
    for lines in split:
        content_idx = [i for i, ln in enumerate(lines) if ln.strip()]
        edge_idx = set(content_idx[:edge] + content_idx[-edge:])
        kept = []
        for i, line in enumerate(lines):
            stats.lines_in += bool(line.strip())
            shape = "" if _STRUCTURE.match(line) else _shape(line)
            at_edge = i in edge_idx and (shape in edges or _is_page_number(line, len(pages)))
            if at_edge or shape in spread or any(p.search(line) for p in _BOILERPLATE):
                stats.header_footer_lines += 1
                continue
            kept.append(line)
        cleaned.append("\n".join(kept))
    return cleaned


def rejoin_hyphenated(text: str, stats: CleanStats, vocabulary: set[str] | None = None) -> str:
    """Re-join words broken across lines ("frame-\\nwork" -> "framework")."""
    hyphenated_elsewhere = set(re.findall(r"\b\w+-\w+\b", text.lower()))
    words = vocabulary if vocabulary is not None else set(re.findall(r"[a-z]+", text.lower()))

    def repair_spaced(m: re.Match[str]) -> str:
        joined = m.group(1) + m.group(2)
        # Only where the joined word is a word of this document, or ends like one: a spaced
        # hyphen is also used as a dash between words. At a line end a dash before a new
        # line ("shortage -\nincluding") is as common as a break, so only the vocabulary counts.
        at_line_end = "\n" in m.group()
        if joined in words or (not at_line_end and m.group(2).endswith(_WORD_ENDINGS)):
            stats.hyphen_repairs += 1
            return joined
        return m.group()

    text = _SPACED_BREAK.sub(repair_spaced, text)

    def repair(m: re.Match[str]) -> str:
        head, tail = m.group(1), m.group(2)
        stats.hyphen_repairs += 1
        compound = f"{head}-{tail}".lower()
        if (
            head.lower() in _HYPHEN_PREFIXES
            or tail.lower() in _HYPHEN_TAILS
            or compound in hyphenated_elsewhere
        ):
            return f"{head}-{tail}"
        return head + tail

    return _HYPHEN_BREAK.sub(repair, text)


_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|cf|no|art|vol|para|p|pp|ca|approx)\.$", re.I)


def _ends_sentence(line: str) -> bool:
    return bool(re.search(r"[.!?][\"”’)]?$", line)) and not _ABBREVIATION.search(line)


def _is_heading_like(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= 12
        and len(line) <= 90
        and not _SENTENCE_END.search(line)
        and line[:1].isupper()
    )


def unwrap_lines(text: str) -> str:
    """Join the lines of a paragraph; keep paragraph breaks, headings and bullets apart."""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in text.split("\n"):
        line = _RUN_OF_SPACES.sub(" ", raw.strip())
        if not line:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        starts_new = (
            not current
            or _BULLET.match(line)
            or (line[:1].islower() and _ends_sentence(current[-1]))
            or (_SENTENCE_END.search(current[-1]) and line[:1].isupper() and len(current[-1]) < 60)
            or (
                len(current) == 1
                and _is_heading_like(current[0])
                and "," not in current[0]
                and len(current[0].split()) <= 8
                and line[:1].isupper()
                and len(current[0]) < 0.6 * len(line)
            )
        )
        if starts_new and current:
            paragraphs.append(" ".join(current))
            current = []
        current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(_merge_broken(paragraphs))


def _merge_broken(paragraphs: list[str]) -> list[str]:
    # A paragraph starting in lower case continues the latest one that ended mid-sentence:
    # a layout element (a box, a pull-quote) printed between them had cut it in two.
    merged: list[str] = []
    for para in paragraphs:
        target = None
        if para[:1].islower():
            for idx in range(len(merged) - 1, max(-1, len(merged) - 4), -1):
                candidate = merged[idx]
                ends_mid_sentence = candidate.rsplit(" ", 1)[-1].lower() in STOP_WORDS
                if not _SENTENCE_END.search(candidate) and (
                    ends_mid_sentence or not _is_heading_like(candidate)
                ):
                    target = idx
                    break
        if target is None:
            merged.append(para)
        else:
            merged[target] = f"{merged[target]} {para}"
    return merged


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def _may_be_pull_quote(paragraph: str, min_words: int) -> bool:
    # Numbered provisions, list items and table rows repeat their wording on purpose.
    return (
        len(paragraph.split()) >= min_words
        and not _BULLET.match(paragraph)
        and not re.match(r"\s*(\(|\d|article\b)", paragraph, re.I)
    )


def drop_repeated_paragraphs(
    text: str, stats: CleanStats, min_words: int = 15, threshold: float = 0.5
) -> str:
    """Index a repeated pull-quote once: drop a paragraph that mostly repeats longer ones."""
    paragraphs = text.split("\n\n")
    shingles = [_shingles(p) for p in paragraphs]
    keep: list[str] = []
    for i, para in enumerate(paragraphs):
        own = shingles[i]
        if own and _may_be_pull_quote(para, min_words):
            # The pull-quote is the shorter copy; of two equal copies the later one goes.
            others: set[tuple[str, ...]] = set()
            for j, other in enumerate(paragraphs):
                if j != i and (len(other) > len(para) or (len(other) == len(para) and j < i)):
                    others |= shingles[j]
            if len(own & others) / len(own) >= threshold:
                stats.duplicate_paragraphs += 1
                continue
        keep.append(para)
    return "\n\n".join(_merge_broken(keep))


def clean_pages(
    pages: Sequence[str], min_share: float = 0.5, stats: CleanStats | None = None
) -> list[str]:
    """The whole clean-up, page by page (page boundaries are kept)."""
    stats = stats or CleanStats()
    normalised = [normalise_characters(p) for p in pages]
    stripped = strip_running_lines(normalised, min_share, stats)
    # Legal texts repeat formulae that look like pull-quotes (measured on the real PDFs:
    # 50-100% shared wording between distinct provisions), so on paged documents only exact
    # repeats go. Text captured without pages (like the policy brief seed) has no page to
    # localise its pull-quotes, which paraphrase the body (46-79% shared wording).
    threshold = 1.0 if len(pages) > 1 else 0.5
    vocabulary = set(re.findall(r"[a-z]+", " ".join(stripped).lower()))
    out = []
    for page in stripped:
        text = unwrap_lines(rejoin_hyphenated(page, stats, vocabulary))
        out.append(drop_repeated_paragraphs(text, stats, threshold=threshold).strip())
    return out


def find_headings(text: str) -> list[tuple[int, str]]:
    """(offset, heading) for paragraphs that read as headings: short, capitalised, no full stop."""
    found = []
    offset = 0
    for para in text.split("\n\n"):
        if _is_heading_like(para) and len(para.split()) >= 1 and not _BULLET.match(para):
            found.append((offset, para))
        offset += len(para) + 2
    return found
