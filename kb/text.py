"""Small text helpers shared by indexing, search and answers, and the one normaliser that
says what a searchable word is: BM25 (kb/index.py) and the evidence gate (kb/gate.py)
both use `WORD_PATTERN`, `STOP_WORDS` and `stem`, so they agree on a question's content
words."""

from __future__ import annotations

import re
from functools import cache

import Stemmer

_WORD = re.compile(r"\w+", re.UNICODE)
# Words of two letters or more: what BM25 indexes and what the gate counts.
WORD_PATTERN = r"(?u)\b\w\w+\b"
_TERM = re.compile(WORD_PATTERN)
_SENTENCE = re.compile(r"(?<=[.!?])[\"”’)\]]?\s+(?=[\"“‘(\[]?[A-Z0-9•])")

# English stop words and question words: they say nothing about what a passage must contain.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves tell say said says know many much also may might must shall us via per within
    without across among upon whether etc""".split()  # noqa: SIM905
)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """The English (Snowball) stem of a lower-case word."""
    stemmed: str = _stemmer().stemWord(word)
    return stemmed


def terms(text: str) -> list[str]:
    """The stemmed content words of a text, in order: what BM25 indexes and matches."""
    return [stem(w) for w in _TERM.findall(text.lower()) if w not in STOP_WORDS]


def index_text(title: str, section: str | None, text: str, aliases: tuple[str, ...] = ()) -> str:
    """What the retrievers see for a chunk: its title and section heading, the text, and the
    long forms of the acronyms it uses (see kb/acronyms.py)."""
    head = f"{title}. {section}." if section and section != title else f"{title}."
    tail = f"\n({'; '.join(aliases)})" if aliases else ""
    return f"{head}\n{text}{tail}"


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences in a text; each span is an exact substring."""
    spans = []
    for block in re.finditer(r"[^\n]+", text):
        start = block.start()
        for m in _SENTENCE.finditer(block.group()):
            end = block.start() + m.start()
            if text[start:end].strip():
                spans.append((start, end))
            start = block.start() + m.end()
        if text[start : block.end()].strip():
            spans.append((start, block.end()))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def shingles(text: str, n: int = 5) -> set[int]:
    """A text's runs of n words, lower-cased, as hashes (set intersections of ints are what
    near-duplicate removal spends its time on)."""
    ws = _WORD.findall(text.lower())
    if len(ws) <= n:
        return {hash(tuple(ws))}
    return set(map(hash, zip(*(ws[i:] for i in range(n)), strict=False)))  # runs of n


# A source's own footnote markers: "sharing[3]." or a superscript digit that text extraction
# glued to the word's punctuation ("action.6 The"). Readers must not take them for ours.
_FOOTNOTE = re.compile(r"\[(\d{1,3})\]|(?<=[a-z][.,;:])(\d{1,2})(?=\s+[A-Z])")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def set_off_footnotes(text: str) -> str:
    """The text with the source's footnote markers as superscript digits (sharing³.), so that
    only the answer's own markers read [n]."""
    return _FOOTNOTE.sub(lambda m: (m.group(1) or m.group(2)).translate(_SUPERSCRIPT), text)


# Words that lean on what came before: a quote starting with one needs its preceding sentence.
_LEANING = frozenset(
    """this these those that it its they their them such he she his her there here both
    however moreover furthermore also thus therefore hence instead similarly likewise
    nevertheless nonetheless accordingly consequently meanwhile otherwise still yet
    additionally besides and but or so then which""".split()  # noqa: SIM905
)


def starts_mid_thought(quote: str) -> bool:
    """Whether a quote leans on what came before it: it starts in lower case ("has targeted
    these sectors so far") or with a word that points back ("These", "However")."""
    first = next(iter(re.findall(r"\w+", quote[:40])), "")
    if not first or not first[0].isalpha():  # "2024 saw...", "(1) Where..." stand alone
        return False
    return first[0].islower() or first.lower() in _LEANING


def preceding_sentence(text: str, start: int) -> str | None:
    """The sentence that ends where `start` begins (or just before), if any."""
    before = [(s, e) for s, e in split_sentences(text[:start]) if text[s:e].strip()]
    if not before:
        return None
    s, e = before[-1]
    return text[s:e].strip() or None


def best_sentence(query: str, text: str) -> tuple[int, int] | None:
    """The sentence of `text` that shares the most content words with the query (the first
    of equals), as offsets; None when none shares any."""
    wanted = set(terms(query))
    best, best_score = None, 0
    for start, end in split_sentences(text):
        score = len(wanted & set(terms(text[start:end])))
        if score > best_score:
            best, best_score = (start, end), score
    return best


# Function words that tell German and French from English (a question is short: these are
# what it always has).
FUNCTION_WORDS = {
    "de": frozenset(
        """der die das den dem des und ist sind wie was welche welcher welches wer wo warum
        wann nicht für mit auf bei nach von zu im ein eine einen einer über gibt können kann
        müssen werden wurde haben hat es ich wir sie man auch oder""".split()  # noqa: SIM905
    ),
    "fr": frozenset(
        """le la les des du un une est sont que qui quoi quel quelle quels quelles comment
        pourquoi quand où pour avec dans sur par pas ne ce cette ces il elle ils nous vous
        peut peuvent faut être avoir ont au aux et ou""".split()  # noqa: SIM905
    ),
    "en": STOP_WORDS,
}


def question_language(text: str) -> str:
    """'de', 'fr' or 'en': the language whose function words the text uses most (English
    when none stands out)."""
    tokens = [w.lower() for w in _WORD.findall(text)]
    counts = {lang: sum(t in words for t in tokens) for lang, words in FUNCTION_WORDS.items()}
    best = max(("de", "fr"), key=lambda lang: counts[lang])
    return best if counts[best] >= 2 and counts[best] > counts["en"] else "en"


# What an answer may quote.
_MIN_SENTENCE_WORDS = 4  # "Collective expulsions are prohibited." answers
_SENTENCE_END = re.compile(r"[.!?;:][\"”’)\]]*$|\[\d+\][.]?$")
# Footnotes and references ("[3] IOM, ..., last accessed 3 January 2022") answer nothing.
_REFERENCE = re.compile(
    r"^\s*(\[\d+\]|\d{1,3}\s+[A-Z])|last accessed|Available at:|https?://", re.I
)
_MAX_SENTENCE_CHARS = 600
# What an instruction planted in a document looks like: addressed to an assistant or its
# prompt, not to a reader of a policy brief. No composer quotes one as an answer.
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(of\s+)?(the\s+|your\s+)?"
    r"((previous|prior|above|earlier|preceding|system)\s+)?(instructions|prompts?)\b"
    r"|\b(system|developer) (prompt|message)\b"
    r"|\byou are (now )?(an? )?(ai|assistant|language model|chatgpt)\b"
    r"|\bas an ai (language model|assistant)\b",
    re.I,
)
_BULLETS = "•▪●-– "


def quotable_sentences(text: str) -> list[tuple[int, int]]:
    """The spans of a passage's sentences that could answer: long enough, ending like a
    sentence, not a heading, a question, a footnote or a reference."""
    found = []
    for start, end in split_sentences(text):
        span = trim_span(text, start, end)
        sentence = text[span[0] : span[1]]
        if (
            len(sentence.split()) >= _MIN_SENTENCE_WORDS
            and len(sentence) <= _MAX_SENTENCE_CHARS
            and not _REFERENCE.search(sentence)
            and not INSTRUCTION.search(sentence)
            and _SENTENCE_END.search(sentence)  # a heading is not an answer
            and not sentence.rstrip('”"’)').endswith("?")  # nor is a question
        ):
            found.append(span)
    return found


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding space or a leading bullet: layout, not words; what is
    left is still a verbatim quote."""
    while start < end and (text[start].isspace() or text[start] in _BULLETS):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
