"""Build the gold set's library: the sample library (corpus/) and the real PDFs of
../shared/eval-data/pdfs, catalogued as a library catalogues its documents
(bench/eval-pdfs-catalogue.csv: titles, types, dates). The PDFs are copied to a temporary
folder beside their catalogue (the shared folder is read-only and nothing of it enters the
repository), then ingested with the product's pipeline.

    .venv/bin/python bench/gold_library.py /tmp/gold            # then:
    KB_DATA_DIR=/tmp/gold/data .venv/bin/kb eval bench/gold.jsonl

`--no-catalogue` ingests the PDFs as they are (titles inferred from the files).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from ingest.pipeline import run  # noqa: E402
from kb.settings import Settings  # noqa: E402

PDFS = ROOT.parent / "shared" / "eval-data" / "pdfs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where the library and its data go")
    parser.add_argument("--no-catalogue", action="store_true")
    args = parser.parse_args()
    if not PDFS.is_dir():
        sys.exit(f"{PDFS} is not present")
    pdfs = args.folder / "pdfs"
    shutil.rmtree(args.folder, ignore_errors=True)
    pdfs.mkdir(parents=True)
    for pdf in sorted(PDFS.glob("*.pdf")):
        shutil.copy2(pdf, pdfs / pdf.name)
    if not args.no_catalogue:
        shutil.copy2(ROOT / "bench" / "eval-pdfs-catalogue.csv", pdfs / "catalogue.csv")
    report = run([ROOT / "corpus", pdfs], Settings(data_dir=args.folder / "data"))
    print(f"{len(report.added)} documents, {report.chunks} chunks, {len(report.failed)} failed")


if __name__ == "__main__":
    main()
