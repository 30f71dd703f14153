"""Search and answer latency over a library, with the gold questions as queries.

    KB_DATA_DIR=/tmp/gold/data .venv/bin/python bench/search.py
    KB_RETRIEVAL__CANDIDATES=50 KB_DATA_DIR=... .venv/bin/python bench/search.py   # compare

Prints p50 / p95 in milliseconds for search (k = 10) as anonymous and as a member, and for
answers; each query runs three times after one warm-up.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from kb.answer import answer  # noqa: E402
from kb.library import Library  # noqa: E402
from kb.search import search  # noqa: E402
from kb.settings import Settings  # noqa: E402
from kb.types import EVERYONE, MEMBERS  # noqa: E402
from ui.evaluation import read_gold  # noqa: E402


def _timed(call: Callable[[str], object], queries: list[str]) -> str:
    times = []
    for query in queries * 3:
        started = time.perf_counter()
        call(query)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return f"p50 {statistics.median(times):6.1f} ms   p95 {times[int(len(times) * 0.95)]:6.1f} ms"


def main() -> None:
    settings = Settings()
    library = Library(settings)
    queries = [g.question for g in read_gold(ROOT / "bench" / "gold.jsonl")]
    answer(library, queries[0], settings.answer, settings.retrieval)  # load the model and the index
    r = settings.retrieval
    print(
        f"{library.chunk_count()} chunks; fusion {r.fusion}, "
        f"{r.candidates} candidates, mode {r.mode}"
    )
    print(
        "search, anonymous ",
        _timed(lambda q: search(library, q, settings.retrieval, k=10, access=EVERYONE), queries),
    )
    print(
        "search, member    ",
        _timed(lambda q: search(library, q, settings.retrieval, k=10, access=MEMBERS), queries),
    )
    print(
        "answer, member    ",
        _timed(
            lambda q: answer(library, q, settings.answer, settings.retrieval, access=MEMBERS),
            queries,
        ),
    )


if __name__ == "__main__":
    main()
