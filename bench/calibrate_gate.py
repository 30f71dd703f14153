"""Calibrate the evidence gate on a gold set: print each question's evidence signals (best
cosine similarity and question-word coverage among the top passages) and the thresholds that
abstain on every unanswerable question while answering the most answerable ones.

    KB_DATA_DIR=... .venv/bin/python bench/calibrate_gate.py bench/gold.jsonl
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from ingest.evaluation import read_gold  # noqa: E402
from kb.answer import assess  # noqa: E402
from kb.library import MEMBERS, Library  # noqa: E402
from kb.settings import Settings  # noqa: E402


def main() -> None:
    items = read_gold(Path(sys.argv[1]))
    library = Library(Settings())
    signals = []
    for item in items:
        hits = library.search(item.question, k=library.settings.answer.passages, access=MEMBERS)
        evidence = assess(item.question, hits)
        signals.append((item.answerable, evidence.similarity, evidence.coverage))
        mark = "answerable  " if item.answerable else "UNANSWERABLE"
        print(
            f"{mark} sim {evidence.similarity:.3f} cov {evidence.coverage:.2f}  "
            f"{item.question[:64]}"
        )
    best = None
    for sim in [x / 100 for x in range(20, 61)]:
        for cov in [x / 20 for x in range(0, 21)]:
            answers = [a and s >= sim and c >= cov for a, s, c in signals]
            leaks = sum(1 for (a, s, c) in signals if not a and s >= sim and c >= cov)
            answered = sum(answers)
            # Every unanswerable question abstained first, then the most answered, then the
            # widest margin (thresholds in the middle of the gap).
            key = (-leaks, answered, -abs(sim - 0.4))
            if best is None or key > best[0]:
                best = (key, sim, cov, answered, leaks)
    assert best is not None
    _, sim, cov, answered, leaks = best
    total = sum(1 for a, _, _ in signals if a)
    print(
        f"best: min_similarity {sim:.2f}, min_term_coverage {cov:.2f}: "
        f"{answered}/{total} answerable answered, {leaks} unanswerable answered"
    )


if __name__ == "__main__":
    main()
