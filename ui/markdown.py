"""Library text in the chat's Markdown: always shown as text, never read as markup."""

from __future__ import annotations

import re
from typing import Any

# Every ASCII punctuation that Markdown, HTML or the chat's KaTeX ($...$) could read.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&\"'=:$^%@])")


# Library text is never LaTeX: a crafted "$$...$$" must not be typeset.
NO_LATEX: dict[str, Any] = {"latex_delimiters": []}


def md(text: str | None) -> str:
    """Text from the library (titles, quotes, sections, page labels: whatever a file says)
    shown as text, never as Markdown or HTML: a crafted heading must not load an image or a
    link. Line breaks become spaces, so nothing starts a block of its own."""
    return escape(" ".join((text or "").split()))


def escape(text: str) -> str:
    """Every character Markdown, HTML or KaTeX could read, escaped; spacing kept as it is."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
