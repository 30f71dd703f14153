"""Short calls to the core for tests: the library's own settings sections passed along."""

from __future__ import annotations

from typing import Any

from kb.answer import answer
from kb.library import Library
from kb.search import search
from kb.types import Answer, Hit


def find(library: Library, query: str, **kwargs: Any) -> list[Hit]:
    return search(library, query, library.settings.retrieval, **kwargs)


def ask(library: Library, question: str, **kwargs: Any) -> Answer:
    settings = library.settings
    return answer(library, question, settings.answer, settings.retrieval, **kwargs)
