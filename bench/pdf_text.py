"""What clean-up does to real PDF text, file by file (../shared/eval-data/pdfs).

Prints pages, characters before and after, the share of lines removed as running headers,
footers and page counters, hyphenation repairs and repeated paragraphs dropped; with
--show FILE, the removed lines of that file, to check by eye that nothing real went.

    .venv/bin/python bench/pdf_text.py [PDF_DIR] [--show NAME]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from ingest.clean import CleanStats, clean_pages, normalise_characters, strip_running_lines  # noqa: E402
from ingest.parse import read_file  # noqa: E402
from kb.errors import ParseError  # noqa: E402
from kb.settings import ParsingSettings  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "pdfs"


def removed_lines(pages: list[str], min_share: float) -> Counter[str]:
    """The lines running-line removal takes out, with how often."""
    normalised = [normalise_characters(p) for p in pages]
    kept = strip_running_lines(normalised, min_share, CleanStats())
    removed: Counter[str] = Counter()
    for before, after in zip(normalised, kept, strict=True):
        left = Counter(ln for ln in after.split("\n"))
        for line in before.split("\n"):
            if left[line] > 0:
                left[line] -= 1
            elif line.strip():
                removed[line.strip()] += 1
    return removed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--show", help="print the removed lines of this file")
    args = parser.parse_args()
    settings = ParsingSettings()
    print(
        f"{'file':52} {'pages':>5} {'chars in':>9} {'chars out':>9} "
        f"{'hdr/ftr':>7} {'hyph':>5} {'dup':>4}"
    )
    totals = CleanStats()
    for path in sorted(args.folder.glob("*.pdf")):
        try:
            raw = read_file(path, settings)
        except ParseError as e:
            print(f"{path.name:52} failed: {e.reason}")
            continue
        texts = [p.text for p in raw.pages]
        stats = CleanStats()
        cleaned = clean_pages(texts, settings.header_footer_min_share, stats)
        totals.add(stats)
        share = stats.header_footer_lines / max(1, stats.lines_in)
        print(
            f"{path.name[:52]:52} {len(texts):5d} {sum(map(len, texts)):9d} "
            f"{sum(map(len, cleaned)):9d} {share:7.1%} {stats.hyphen_repairs:5d} "
            f"{stats.duplicate_paragraphs:4d}"
        )
        if args.show and args.show in path.name:
            for line, count in removed_lines(texts, settings.header_footer_min_share).most_common():
                print(f"    removed x{count}: {line[:100]}")
    share = totals.header_footer_lines / max(1, totals.lines_in)
    print(
        f"all: {totals.lines_in} lines, {share:.1%} removed as headers/footers, "
        f"{totals.hyphen_repairs} hyphenation repairs, "
        f"{totals.duplicate_paragraphs} repeated paragraphs"
    )


if __name__ == "__main__":
    main()
