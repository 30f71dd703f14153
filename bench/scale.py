"""Scale benchmark: grow one library to each size and measure the product at it.

The library is written through the product's own Library (store, then index, a hundred
documents at a time through `Library.add_documents`, the bulk import path): SciFact
abstracts and the text of the PDFs in ../shared/eval-data/pdfs, cut into passages and varied
(sentences shuffled, one dropped), 20 passages a document, 20% of the documents
members-only, types and dates spread. Vectors: a sample of real passages embedded with the
bundled model, the rest perturbed copies of them (real neighbourhoods, no model
time). At each size a fresh `kb serve` is started and the script prints:

- cold start to the first answered /api/ask;
- one document added (a staff upload through the API, and `kb ingest` of one file) until
  the running server finds it;
- /api/search (anonymous, anonymous with type and date filters, member) and /api/ask p50 and
  p95 with 1 and 8 concurrent clients;
- RSS, PSS and private memory of each server process; disk of the data directory and of the
  index.

    .venv/bin/python bench/scale.py [--sizes 10000 100000] [--data /tmp/kb-scale] [--workers 1]

With --workers N > 1 the library is kept on a Chroma server the script starts
(`chroma run`) and RSS is given per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from functools import cached_property
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from kb.answer import answer  # noqa: E402
from kb.keys import KeyStore, Role  # noqa: E402
from kb.library import Library  # noqa: E402
from kb.settings import Settings, StoreSettings  # noqa: E402
from kb.types import Access, Chunk, DocType, Document, Page, ParsedDocument  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval-data"
PASSAGES_PER_DOC = 20
BULK_DOCUMENTS = 100  # written together: one store call per step, one index segment
REAL_VECTORS = 1500
TYPES = [DocType.study, DocType.policy_brief, DocType.news, DocType.conference_report,
         DocType.emn_inform, DocType.guidance]  # fmt: skip
QUERIES = [
    "What did the pilot projects learn about engaging employers?",
    "How long do seasonal work permits last?",
    "vitamin D deficiency and bone fractures",
    "Which conditions apply to the EU Blue Card?",
    "effect of statins on cardiovascular mortality",
    "skills recognition for migrant nurses",
    "family reunification rights of third-country nationals",
    "gene expression in tumour cells",
]


def _question_pool() -> list[str]:
    """Distinct questions (every request of a run asks another, and no run repeats another's,
    so the server's memory of recent questions never helps): ours, then SciFact's claims."""
    claims = [json.loads(line)["text"] for line in (SHARED / "scifact" / "queries.jsonl").open()]
    return QUERIES + claims


POOL = _question_pool()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def source_passages() -> list[str]:
    """Real text: SciFact abstracts and the PDFs' pages, as passages of 60-200 words."""
    passages = []
    for line in (SHARED / "scifact" / "corpus.jsonl").open():
        record = json.loads(line)
        passages.append(f"{record.get('title', '')}. {record['text']}".strip())
    from pypdf import PdfReader

    for pdf in sorted((SHARED / "pdfs").glob("*.pdf"))[:12]:
        try:
            words = " ".join(page.extract_text() or "" for page in PdfReader(pdf).pages).split()
        except Exception:  # noqa: BLE001 - an unreadable stress file is simply not used
            continue
        passages += [" ".join(words[i : i + 150]) for i in range(0, len(words) - 60, 150)]
    return [p for p in passages if len(p.split()) >= 30]


def vary(text: str, rng: random.Random) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    rng.shuffle(sentences)
    if len(sentences) > 3:
        sentences.pop(rng.randrange(len(sentences)))
    return " ".join(sentences)


class Grower:
    """Writes documents of PASSAGES_PER_DOC varied passages with perturbed real vectors."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.passages = source_passages()
        self.rng = random.Random(7)
        self.np_rng = np.random.default_rng(7)

    @cached_property
    def real(self) -> np.ndarray:
        """Real vectors of a sample of the passages (embedded once, when growing starts)."""
        sample = self.passages[:REAL_VECTORS]
        started = time.perf_counter()
        vectors = self.library.embed(sample)
        seconds = time.perf_counter() - started
        print(f"  embedded {len(sample)} real passages: {len(sample) / seconds:.1f} passages/s")
        return vectors

    def vectors(self, n: int) -> np.ndarray:
        base = self.real[self.np_rng.integers(0, len(self.real), n)]
        noisy = base + self.np_rng.normal(0, 0.04, base.shape).astype(np.float32)
        return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)

    def write(self, numbers: range) -> None:
        """Documents with these numbers, in one bulk write (`Library.add_documents`)."""
        self.library.add_documents([self.document(n) for n in numbers])

    def document(self, number: int) -> tuple[ParsedDocument, list[Chunk], np.ndarray]:
        doc_id = f"bulk-{number:07d}"
        texts = [vary(self.rng.choice(self.passages), self.rng) for _ in range(PASSAGES_PER_DOC)]
        doc = Document(
            doc_id=doc_id,
            title=texts[0].split(".")[0][:120] or doc_id,
            doc_type=TYPES[number % len(TYPES)],
            date=dt.date(2010, 1, 1) + dt.timedelta(days=number * 37 % 5800),
            access=Access.members if number % 5 == 0 else Access.public,
            source=f"/bulk/{doc_id}.txt",
            file_hash=f"{number:064x}",
        )
        pages, chunks = [], []
        for i, text in enumerate(texts, start=1):
            pages.append(Page(number=i, text=text))
            chunks.append(Chunk(chunk_id=f"{doc_id}-{i}", doc_id=doc_id, text=text, page=i,
                                start=0, end=len(text)))  # fmt: skip
        parsed = ParsedDocument(document=doc, pages=tuple(pages))
        return parsed, chunks, self.vectors(len(chunks) + 1)


def percentiles(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return f"p50 {statistics.median(times) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms"


async def timed_requests(
    url: str, kind: str, clients: int, questions: list[str], member: dict[str, str]
) -> list[float]:
    bodies = []
    for q in questions:
        if kind == "ask":
            bodies.append(("/api/ask", {"question": q}, {}))
        elif kind == "filtered":
            filters = {"doc_type": ["study", "news"], "date_from": "2014-01-01"}
            bodies.append(("/api/search", {"query": q, "k": 10, "filters": filters}, {}))
        else:
            bodies.append(
                ("/api/search", {"query": q, "k": 10}, member if kind == "member" else {})
            )
    times: list[float] = []
    queue: asyncio.Queue[tuple[str, dict[str, object], dict[str, str]]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def client(session: httpx.AsyncClient) -> None:
        while not queue.empty():
            path, body, headers = queue.get_nowait()
            started = time.perf_counter()
            response = await session.post(url + path, json=body, headers=headers)
            response.raise_for_status()
            times.append(time.perf_counter() - started)

    async with httpx.AsyncClient(timeout=120) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return times


def memory(pid: int) -> tuple[float, float, float]:
    """(RSS, PSS, private) in MB: PSS splits pages shared with other processes (the index's
    mapped files, the model) among them; private is what the process alone holds, what one
    more worker adds."""
    fields = {"Rss:": 0.0, "Pss:": 0.0, "Private_Clean:": 0.0, "Private_Dirty:": 0.0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, *value = line.split()
        if name in fields:
            fields[name] = int(value[0]) / 1024
    private = fields["Private_Clean:"] + fields["Private_Dirty:"]
    return fields["Rss:"], fields["Pss:"], private


def server_processes(parent: int) -> list[int]:
    """The server and its worker processes."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [parent, *[k for kid in kids for k in server_processes(kid)]]


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


KINDS = ("anonymous", "filtered", "member", "ask")
RUNS = {1: 40, 8: 160}  # requests per run, by concurrent clients


def question_slices() -> dict[tuple[int, str], list[str]]:
    """Each run's own questions (and the first searches after start-up, measured apart)."""
    slices, offset = {(1, "first"): POOL[-1 - RUNS[1] : -1]}, 0
    for clients, total in RUNS.items():
        for kind in KINDS:
            slices[clients, kind] = POOL[offset : offset + total]
            offset += total
    return slices


def keep_sentence_vectors(library: Library, questions: list[str]) -> None:
    """What an ingest does for every sentence it adds (kb/sentences.py), done here for the
    passages these questions will be answered from: the bulk documents came with given
    vectors and no sentence vectors. Run in this process, so the server's memory of recent
    questions stays empty."""
    settings = library.settings
    for question in questions:
        answer(library, question, settings.answer, settings.retrieval)


def measure(
    settings: Settings, env: dict[str, str], workers: int, size: int, library: Library
) -> None:
    slices = question_slices()
    keep_sentence_vectors(library, slices[1, "ask"] + slices[8, "ask"])
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    keys = KeyStore(settings.data_dir)
    member = {"X-API-Key": keys.create(Role.member, f"bench-member-{size}-{time.time_ns()}")}
    staff = {"X-API-Key": keys.create(Role.staff, f"bench-staff-{size}-{time.time_ns()}")}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "ui", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                if (
                    httpx.post(
                        f"{url}/api/ask", json={"question": POOL[-1]}, timeout=60
                    ).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise RuntimeError("kb serve exited")
            time.sleep(0.2)
        print(f"  cold start to first answer: {time.perf_counter() - started:.1f} s")
        # The first searches of a fresh process read the index's pages from disk when the
        # page cache has let them go (a quiet machine reclaims them): shown apart.
        times = asyncio.run(timed_requests(url, "first", 1, slices[1, "first"], member))
        print(f"  1 client(s) first searches     {percentiles(times)}")

        for clients in RUNS:
            for kind in KINDS:
                questions = slices[clients, kind]
                times = asyncio.run(timed_requests(url, kind, clients, questions, member))
                label = {"anonymous": "search anonymous", "filtered": "search type+date",
                         "member": "search member", "ask": "ask anonymous"}[kind]  # fmt: skip
                print(f"  {clients} client(s) {label:18} {percentiles(times)}")

        marker = f"zyxwv{size}"
        started = time.perf_counter()
        upload = {
            "file": (
                f"new-{size}.md",
                f"# New note\n\nA note about {marker} and welders.\n".encode(),
            )
        }
        form = {"title": "New note", "doc_type": "study", "access": "public"}
        httpx.post(
            f"{url}/api/documents", files=upload, data=form, headers=staff, timeout=300
        ).raise_for_status()
        uploaded = time.perf_counter() - started
        while not httpx.post(f"{url}/api/search", json={"query": marker, "k": 1}).json()["results"]:
            time.sleep(0.05)
        print(f"  upload one document: answered in {uploaded:.2f} s, searchable after "
              f"{time.perf_counter() - started:.2f} s")  # fmt: skip

        folder = Path(tempfile.mkdtemp())
        marker = f"qwxyz{size}"
        (folder / f"one-{time.time_ns()}.md").write_text(f"# One more\n\nA line about {marker}.\n")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ui", "ingest", str(folder)], cwd=ROOT, env=env,
                       check=True, capture_output=True)  # fmt: skip
        ingested = time.perf_counter() - started
        while not httpx.post(f"{url}/api/search", json={"query": marker, "k": 1}).json()["results"]:
            time.sleep(0.05)
        print(f"  kb ingest of one file: {ingested:.1f} s, the server finds it after "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        shutil.rmtree(folder)

        pids = server_processes(process.pid)
        figures = [memory(pid) for pid in pids]
        per = ", ".join(f"{rss:.0f}/{pss:.0f}/{own:.0f}" for rss, pss, own in figures)
        print(f"  memory RSS/PSS/private MB per process: {per}; all: "
              f"RSS {sum(f[0] for f in figures):.0f}, "
              f"PSS {sum(f[1] for f in figures):.0f}")  # fmt: skip
        index = settings.data_dir / "index"
        print(
            f"  disk: data {disk_mb(settings.data_dir):.0f} MB, of it index {disk_mb(index):.0f} MB"
        )
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "kb-scale")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="Grow the library left by a run.")
    args = parser.parse_args()
    if not args.keep:
        shutil.rmtree(args.data, ignore_errors=True)
    env = {
        **os.environ,
        "KB_DATA_DIR": str(args.data),
        "KB_SERVER__REQUESTS_PER_MINUTE": "1000000",
        "KB_SERVER__REQUESTS_PER_MINUTE_WITH_KEY": "1000000",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    chroma = None
    store = StoreSettings()
    if args.workers > 1:
        chroma_port = _free_port()
        chroma = subprocess.Popen(
            [str(Path(sys.executable).with_name("chroma")), "run",
             "--path", str(args.data / "chroma-server"), "--host", "127.0.0.1",
             "--port", str(chroma_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(5)
        env |= {"KB_STORE__BACKEND": "server", "KB_STORE__PORT": str(chroma_port)}
        store = StoreSettings(backend="server", port=chroma_port)
    try:
        settings = Settings(data_dir=args.data, store=store)
        library = Library(settings)
        grower = Grower(library)
        have = library.chunk_count(tuple(Access)) // PASSAGES_PER_DOC * PASSAGES_PER_DOC
        for size in sorted(args.sizes):
            started = time.perf_counter()
            first, last = have // PASSAGES_PER_DOC, size // PASSAGES_PER_DOC
            for number in range(first, last, BULK_DOCUMENTS):
                grower.write(range(number, min(number + BULK_DOCUMENTS, last)))
                done = min(number + BULK_DOCUMENTS, last) - first
                if done % 2500 == 0:
                    rate = done * PASSAGES_PER_DOC / (time.perf_counter() - started)
                    print(f"    {(first + done) * PASSAGES_PER_DOC:,} chunks ({rate:.0f} chunks/s)",
                          flush=True)  # fmt: skip
            have = size
            print(f"{size:,} chunks (grown in {time.perf_counter() - started:.0f} s); "
                  f"{args.workers} worker(s), {settings.store.backend} store")  # fmt: skip
            measure(settings, env, args.workers, size, library)
    finally:
        if chroma is not None:
            chroma.terminate()


if __name__ == "__main__":
    main()
