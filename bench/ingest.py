"""Ingestion benchmark on the 34 real PDFs of ../shared/eval-data/pdfs (1,478 pages).

Prints pages, chunks, seconds, chunks per second, peak memory, and the ratio of the whole
pipeline's time to the time of embedding the same chunks alone (goal: at most 1.15).

    .venv/bin/python bench/ingest.py [PDF_DIR]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow
# the `ingest` package: look in the project root instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from ingest.pipeline import run  # noqa: E402
from kb.embedder import load_embedder  # noqa: E402
from kb.library import Library  # noqa: E402
from kb.settings import Settings  # noqa: E402
from kb.text import index_text, quotable_sentences  # noqa: E402
from kb.types import MEMBERS  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "pdfs"


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not folder.is_dir():
        sys.exit(f"{folder} not found: pass the folder of PDFs")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        load_embedder(settings.embedder).embed(["warm-up"])  # model load is not ingestion
        started = time.perf_counter()
        report = run(sorted(folder.glob("*.pdf")), settings)
        total = time.perf_counter() - started
        library = Library(settings)
        texts = []
        docs = library.document_map(MEMBERS)
        for stored in library.chunks():
            doc = docs[stored.chunk.doc_id]
            texts.append(
                index_text(doc.title, stored.chunk.section, stored.chunk.text, stored.chunk.aliases)
            )
        texts += [d.title for d in library.documents(MEMBERS)]  # the pipeline embeds titles too
        # ... and, for answers, every quotable sentence (kb/sentences.py).
        sentences = list(
            dict.fromkeys(
                s.chunk.text[a:b]
                for s in library.chunks()
                for a, b in quotable_sentences(s.chunk.text)
            )
        )
        started = time.perf_counter()
        library.embed(texts)
        embed_chunks = time.perf_counter() - started
        library.embed(sentences)
        embed_only = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"files            {report.files} ({len(report.failed)} failed)")
    print(f"pages            {report.pages}")
    print(f"chunks           {report.chunks}")
    print(f"seconds          {total:.1f}")
    print(f"chunks/second    {report.chunks / total:.1f}")
    print(f"peak memory      {peak_mb:.0f} MB (parsing worker {worker_mb:.0f} MB)")
    print(f"embedding alone  {embed_only:.1f} s ({embed_chunks:.1f} s chunks and titles, "
          f"{embed_only - embed_chunks:.1f} s {len(sentences)} sentences)")  # fmt: skip
    print(f"pipeline/embed   {total / embed_only:.2f}")
    print(f"clean-up         {report.clean}")
    for failure in report.failed:
        print(f"failed: {failure.path}: {failure.reason}")


if __name__ == "__main__":
    main()
