"""Retrieval quality as numbers: a BEIR dataset run through the product's own ingestion and
search, and a gold set of questions over the library.

It stands above both the pipeline and the core (a BEIR run builds its own library with the
pipeline, then searches it), so it lives with the other things that drive them, in ui/.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field

from ingest.pipeline import run
from ingest.prepare import slug
from kb.answer import answer
from kb.library import Library
from kb.metrics import mrr_at, ndcg_at, recall_at
from kb.search import search
from kb.settings import RetrievalSettings, Settings, StoreSettings
from kb.types import MEMBERS


class BeirReport(BaseModel):
    dataset: str
    split: str
    mode: str
    queries: int
    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    index_seconds: float
    seconds_per_query: float


def _read_jsonl(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split("\t")
            if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
                continue  # the header line
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


@contextmanager
def _work_dir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="kb-beir-") as tmp:
        yield Path(tmp)


def _write_corpus(folder: Path, corpus: Path) -> dict[str, str]:
    """One Markdown file per BEIR document (title as heading); returns doc_id -> BEIR id."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = {}
    for doc in _read_jsonl(corpus):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", doc["_id"])
        path = folder / f"{name}.md"
        if not path.exists():
            title = " ".join(doc.get("title", "").split())
            path.write_text(f"# {title}\n\n{doc['text']}\n" if title else f"{doc['text']}\n")
        ids[slug(name)] = doc["_id"]
    return ids


def evaluate_beir(
    folder: Path, settings: Settings, split: str = "test", keep: Path | None = None
) -> BeirReport:
    """Index a BEIR dataset with the product's pipeline and score the product's search."""
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries = {
        q["_id"]: q["text"] for q in _read_jsonl(folder / "queries.jsonl") if q["_id"] in qrels
    }
    with _work_dir(keep) as work:
        ids = _write_corpus(work / "corpus", folder / "corpus.jsonl")
        # Retrieval only: no answer is composed, so no sentence is embedded at ingest.
        no_sentences = settings.answer.model_copy(update={"sentence_vectors_at_ingest": False})
        local = settings.model_copy(
            update={
                "data_dir": work / "data",
                "store": StoreSettings(prefix="beir"),
                "answer": no_sentences,
            }
        )
        started = time.perf_counter()
        run([work / "corpus"], local)
        index_seconds = time.perf_counter() - started
        library = Library(local)
        scores: dict[str, list[float]] = {"ndcg": [], "r10": [], "r100": [], "mrr": []}
        started = time.perf_counter()
        for qid, text in queries.items():
            ranked: list[str] = []
            for hit in search(library, text, local.retrieval, k=100, access=MEMBERS):
                beir_id = ids.get(hit.citation.doc_id)
                if beir_id and beir_id not in ranked:
                    ranked.append(beir_id)
            relevant = qrels[qid]
            scores["ndcg"].append(ndcg_at(ranked, relevant, 10))
            scores["r10"].append(recall_at(ranked, relevant, 10))
            scores["r100"].append(recall_at(ranked, relevant, 100))
            scores["mrr"].append(mrr_at(ranked, relevant, 10))
        per_query = (time.perf_counter() - started) / max(1, len(queries))
    return BeirReport(
        dataset=folder.name,
        split=split,
        mode=settings.retrieval.mode,
        queries=len(queries),
        ndcg_at_10=round(statistics.mean(scores["ndcg"]), 4),
        recall_at_10=round(statistics.mean(scores["r10"]), 4),
        recall_at_100=round(statistics.mean(scores["r100"]), 4),
        mrr_at_10=round(statistics.mean(scores["mrr"]), 4),
        index_seconds=round(index_seconds, 1),
        seconds_per_query=round(per_query, 4),
    )


# -- the gold set --------------------------------------------------------------------------


class GoldQuestion(BaseModel):
    question: str
    evidence: list[str] = Field(
        default_factory=list, description="Phrases that mark a relevant passage."
    )
    source: str | None = Field(None, description="File name the evidence must come from.")
    sources: list[str] = Field(
        default_factory=list, description="File names, when evidence comes from several."
    )
    pages: list[int] = Field(default_factory=list, description="Pages where the evidence is.")
    answerable: bool = True
    category: str = Field(
        "direct",
        validation_alias=AliasChoices("class", "category"),
        description="The kind of question (paraphrase, name, time, answer-type, comparison, "
        "non-english, direct, unanswerable): `kb eval` reports each.",
    )


class ClassReport(BaseModel):
    questions: int
    evidence_top3: float | None = Field(description="Answerable: evidence in the top 3.")
    answered: float | None = Field(description="Answerable: answered, not abstained.")
    abstained: float | None = Field(description="Unanswerable: abstained.")
    pointed: float | None = Field(
        None,
        description="Not English: told the library answers in English, the evidence's "
        "document among the closest listed.",
    )


class GoldReport(BaseModel):
    questions: int
    answerable: int
    evidence_at: dict[str, float] = Field(
        description="Share of answerable questions with evidence in the top k."
    )
    mrr: float
    page_accuracy: float | None = Field(
        description="Share of page questions whose first evidence hit is on a gold page."
    )
    answered_with_evidence: float = Field(
        description="Share of answerable questions answered, citing the evidence."
    )
    answered: float = Field(description="Share of answerable questions answered (not abstained).")
    unanswerable_abstained: float | None
    misses: list[str] = Field(
        default_factory=list, description="Questions whose evidence is not in the top 5."
    )
    wrong_abstentions: list[str] = Field(default_factory=list)
    wrong_answers: list[str] = Field(
        default_factory=list, description="Unanswerable questions answered."
    )
    by_class: dict[str, ClassReport] = Field(default_factory=dict)


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces: PDF line breaks and hyphens vanish."""
    text = re.sub(r"(\w)-\s+(\w)", r"\1\2", text.lower())
    return " ".join(re.findall(r"\w+", text))


def _is_evidence(text: str, source: str, item: GoldQuestion) -> bool:
    allowed = {*item.sources, *([item.source] if item.source else [])}
    if allowed and Path(source).name not in allowed:
        return False
    passage = normalise(text)
    return any(normalise(phrase) in passage for phrase in item.evidence)


def read_gold(path: Path) -> list[GoldQuestion]:
    return [GoldQuestion.model_validate(row) for row in _read_jsonl(path)]


@dataclass
class _Outcome:
    item: GoldQuestion
    abstained: bool
    rank: int | None = None  # of the first evidence passage in the top 10 (answerable only)
    page_right: bool | None = None  # page questions only
    cited_evidence: bool = False
    pointed: bool = False  # not English: told so, the evidence's document listed


def _outcome(library: Library, item: GoldQuestion, settings: Settings) -> _Outcome:
    reply = answer(library, item.question, settings.answer, settings.retrieval, access=MEMBERS)
    if not item.answerable:
        return _Outcome(item, reply.abstained)
    hits = search(library, item.question, settings.retrieval, k=10, access=MEMBERS)
    rank = next(
        (i for i, h in enumerate(hits) if _is_evidence(h.text, h.citation.source, item)), None
    )
    page_right = None
    if item.pages:
        page_right = rank is not None and hits[rank].citation.page in item.pages
    cited = any(_is_evidence(c.quote, c.source, item) for c in reply.citations)
    sources = {*item.sources, *([item.source] if item.source else [])}
    pointed = bool(reply.notice and "English" in reply.notice) and any(
        r.source in sources for r in reply.see_also
    )
    return _Outcome(item, reply.abstained, rank, page_right, cited and not reply.abstained, pointed)


def _share(count: int, total: int) -> float | None:
    return round(count / total, 3) if total else None


def _not_english(o: _Outcome) -> bool:
    """Questions in German or French are told the library answers in English, by design:
    they count for their class's `pointed`, not for answered or abstained."""
    return o.item.category == "non-english"


def _class_report(outcomes: list[_Outcome]) -> ClassReport:
    foreign = [o for o in outcomes if _not_english(o)]
    answerable = [o for o in outcomes if o.item.answerable and not _not_english(o)]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    return ClassReport(
        questions=len(outcomes),
        evidence_top3=_share(sum(o.rank is not None and o.rank < 3 for o in answerable),
                             len(answerable)),
        answered=_share(sum(not o.abstained for o in answerable), len(answerable)),
        abstained=_share(sum(o.abstained for o in unanswerable), len(unanswerable)),
        pointed=_share(sum(o.pointed for o in foreign), len(foreign)),
    )  # fmt: skip


def evaluate_gold(path: Path, settings: Settings) -> GoldReport:
    """Score search and answers on a gold set over the library in `settings`, overall and
    per class of question."""
    items = read_gold(path)
    library = Library(settings)
    outcomes = [_outcome(library, item, settings) for item in items]
    answerable = [o for o in outcomes if o.item.answerable and not _not_english(o)]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    ranks = [o.rank for o in answerable]
    pages = [o.page_right for o in answerable if o.page_right is not None]
    n = max(1, len(ranks))
    classes: dict[str, list[_Outcome]] = {}
    for o in outcomes:
        classes.setdefault(o.item.category, []).append(o)
    return GoldReport(
        questions=len(items),
        answerable=len(ranks),
        evidence_at={
            str(k): round(sum(1 for r in ranks if r is not None and r < k) / n, 3)
            for k in (1, 3, 5, 10)
        },
        mrr=round(sum(1 / (r + 1) for r in ranks if r is not None) / n, 3),
        page_accuracy=_share(sum(pages), len(pages)),
        answered_with_evidence=round(sum(o.cited_evidence for o in answerable) / n, 3),
        answered=round(sum(not o.abstained for o in answerable) / n, 3),
        unanswerable_abstained=_share(sum(o.abstained for o in unanswerable), len(unanswerable)),
        misses=[o.item.question for o in answerable if o.rank is None or o.rank >= 5],
        wrong_abstentions=[o.item.question for o in answerable if o.abstained],
        wrong_answers=[o.item.question for o in unanswerable if not o.abstained],
        by_class={name: _class_report(group) for name, group in sorted(classes.items())},
    )


def with_mode(settings: Settings, mode: str) -> Settings:
    retrieval = RetrievalSettings(**{**settings.retrieval.model_dump(), "mode": mode})
    return settings.model_copy(update={"retrieval": retrieval})
