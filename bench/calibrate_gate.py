"""Calibrate the evidence gate on a gold set: print each question's evidence signals (best
cosine similarity and question-word coverage among the top passages) and the gate
`similarity + w * coverage >= threshold` that abstains on every unanswerable question and
answers the most answerable ones, with the widest margin between the two groups (the
distance between them across the gate's line; the threshold sits in the middle of the gap).

    KB_DATA_DIR=... .venv/bin/python bench/calibrate_gate.py bench/gold.jsonl
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from kb.gate import Evidence, evidence  # noqa: E402
from kb.library import Library  # noqa: E402
from kb.search import search  # noqa: E402
from kb.settings import Settings  # noqa: E402
from kb.types import MEMBERS  # noqa: E402
from ui.evaluation import read_gold  # noqa: E402


def _gate(signals: list[tuple[bool, Evidence]], weight: float) -> tuple[int, float, float]:
    """(answerable answered, margin, threshold) for the best threshold at this weight."""
    unanswerable = max((e.score(weight) for a, e in signals if not a), default=0.0)
    answerable = sorted(e.score(weight) for a, e in signals if a)
    above = [s for s in answerable if s > unanswerable]
    if not above:
        return 0, 0.0, unanswerable
    gap = above[0] - unanswerable
    # The gap measured across the line sim + w * cov = t, so weights compare fairly.
    return len(above), gap / math.hypot(1.0, weight), round(unanswerable + gap / 2, 3)


def main() -> None:
    items = read_gold(Path(sys.argv[1]))
    library = Library(Settings())
    signals = []
    for item in items:
        hits = search(
            library,
            item.question,
            library.settings.retrieval,
            k=library.settings.answer.passages,
            access=MEMBERS,
        )
        found = evidence(item.question, hits)
        signals.append((item.answerable, found))
        mark = "answerable  " if item.answerable else "UNANSWERABLE"
        print(f"{mark} sim {found.similarity:.3f} cov {found.coverage:.2f}  {item.question[:64]}")
    total = sum(1 for a, _ in signals if a)
    results = [(_gate(signals, w / 20), w / 20) for w in range(0, 41)]
    for (answered, margin, threshold), weight in results[::4]:
        print(f"w {weight:.2f}: {answered}/{total} answered, margin {margin:.3f}, at {threshold}")
    (answered, margin, threshold), weight = max(results, key=lambda r: (r[0][0], r[0][1]))
    print(
        f"best: coverage_weight {weight:.2f}, min_evidence {threshold:.3f}: {answered}/{total} "
        f"answerable answered, every unanswerable abstained, margin {margin:.3f}"
    )


if __name__ == "__main__":
    main()
