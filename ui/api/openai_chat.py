"""OpenAI-compatible chat: `POST /v1/chat/completions` and `GET /v1/models`, so the openai SDK,
Open WebUI, LibreChat and other chat front-ends can use the library as a model.

The last user message is answered exactly as `/api/ask` answers it: the same retrieval, the
same evidence gate, the same composer, the same keys (as Bearer tokens), access rules and rate
limits. The assistant message is the answer with its `[n]` markers; its sources travel where
clients look for them: OpenAI's `annotations` (`url_citation`: title and link, at the marker
they belong to) and a `sources` list (quote, title, type, date, page, link) on the message, as
PrivateGPT and RAGFlow clients read it. A stream sends the text as it is written and the
sources with the last chunk. Errors come in OpenAI's `{"error": {...}}` shape (ui/api/__init__.py).
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from kb.answer import answer_stream
from kb.errors import KBError
from kb.types import Answer, SearchFilters
from ui.api.deps import AccessDep, ComposerDep, LibraryDep, LinksDep, SettingsDep
from ui.contracts import MAX_K, MAX_QUERY_CHARS, CitationOut, ReferenceOut, reference_label
from ui.links import Links

MODEL_ID = "kb-library"


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape, which its clients parse."""

    error: ErrorDetail


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "The request is not valid (invalid_request_error)."),
        (401, "Unknown or revoked API key (invalid_api_key)."),
        (404, "Unknown model (model_not_found)."),
        (409, "The library is empty or busy."),
        (413, "The request body is too large."),
        (429, "Too many requests (rate_limit_exceeded); see Retry-After."),
        (503, "The store is not answering; see Retry-After."),
    )
}
router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=_ERRORS)
_CREATED = int(time.time())
_MARKER = re.compile(r"\[(\d+)\]")


class OpenAIError(KBError):
    """A request the OpenAI-compatible endpoint refuses, with OpenAI's status and code."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.code = status, code


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls...: read by nobody here
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatRequest(BaseModel):
    # Clients send OpenAI's whole parameter set (temperature, top_p, user, ...): accepted and
    # ignored; an answer from the library is not sampled.
    model_config = ConfigDict(extra="allow")
    model: str = Field(description=f"The library's model id: {MODEL_ID}.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    filters: SearchFilters | None = Field(
        None, description="Catalogue filters (type, dates, language): an extra field."
    )
    k: int | None = Field(None, ge=1, le=MAX_K, description="Passages to draw on: an extra field.")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


@router.get("/models", response_model=ModelList)
def models() -> ModelList:
    """The one model this server offers: the library, answering with citations."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=_CREATED, owned_by="kb")])


@router.post("/chat/completions", response_model=None)
def chat_completions(
    body: ChatRequest,
    library: LibraryDep,
    settings: SettingsDep,
    access: AccessDep,
    links: LinksDep,
    composer: ComposerDep,
) -> dict[str, Any] | StreamingResponse:
    """The last user message, answered from the library with its sources."""
    if body.model != MODEL_ID:
        raise OpenAIError(
            f"The model '{body.model[:80]}' does not exist; this server offers '{MODEL_ID}'.",
            404,
            "model_not_found",
        )
    question = _question(body.messages)
    answers = answer_stream(
        library,
        question,
        settings.answer,
        settings.retrieval,
        body.filters,
        access,
        passages=body.k,
        composer=composer,
    )
    first = next(answers)  # retrieval and the gate run here: their errors are still statuses
    completion = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        chunks = _chunks(completion, itertools.chain([first], answers), links)
        return StreamingResponse(chunks, media_type="text/event-stream")
    *_, final = itertools.chain([first], answers)
    message = _message(final, links)
    return {
        "id": completion,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "sources": message["sources"],
        "kb": _extension(final, links),
    }


def _question(messages: list[ChatMessage]) -> str:
    users = [m for m in messages if m.role == "user" and m.text.strip()]
    if not users:
        raise OpenAIError("Send at least one user message with text: it is the question.")
    question = users[-1].text.strip()
    if len(question) > MAX_QUERY_CHARS:
        raise OpenAIError(f"The question is over {MAX_QUERY_CHARS:,} characters.")
    return question


def _content(answer: Answer, links: Links) -> str:
    """The answer; an abstention also names the closest documents, so a chat window that
    shows only the text still points somewhere."""
    if not answer.abstained or not answer.see_also:
        return answer.answer
    closest = "\n".join(
        f"- {r.title} ({reference_label(r)}): {links.file(r.doc_id, r.page)}"
        for r in answer.see_also
    )
    return f"{answer.answer}\n\nClosest documents:\n{closest}"


def _sources(answer: Answer, links: Links) -> list[dict[str, Any]]:
    return [CitationOut.of_citation(c, links).model_dump(mode="json") for c in answer.citations]


def _annotations(content: str, answer: Answer, links: Links) -> list[dict[str, Any]]:
    """A `url_citation` at each `[n]` marker of the content, for the citation it names."""
    by_n = {c.n: c for c in answer.citations}
    annotations = []
    for marker in _MARKER.finditer(content):
        citation = by_n.get(int(marker.group(1)))
        if citation is not None:
            annotations.append(
                {
                    "type": "url_citation",
                    "url_citation": {
                        "url": links.file(citation.doc_id, citation.page),
                        "title": citation.title,
                        "start_index": marker.start(),
                        "end_index": marker.end(),
                    },
                }
            )
    return annotations


def _message(answer: Answer, links: Links) -> dict[str, Any]:
    content = _content(answer, links)
    return {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": _annotations(content, answer, links),
        "sources": _sources(answer, links),
    }


def _extension(answer: Answer, links: Links) -> dict[str, Any]:
    """What only this library says about an answer, under a key of its own."""
    return {
        "abstained": answer.abstained,
        "composer": answer.composer,
        "notice": answer.notice,
        "see_also": [ReferenceOut.of(r, links).model_dump(mode="json") for r in answer.see_also],
    }


def _chunks(completion: str, answers: Iterator[Answer], links: Links) -> Iterator[str]:
    """The answer as `chat.completion.chunk` events: the role, the text as it grows, then an
    empty delta with the annotations and sources and `finish_reason`, then [DONE]."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": completion,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    written = ""
    final: Answer | None = None
    for final in answers:
        content = _content(final, links)
        if content.startswith(written) and len(content) > len(written):
            yield chunk({"content": content[len(written) :]})
            written = content
    assert final is not None  # answer_stream always yields its final answer
    message = _message(final, links)  # composers only ever add to the text streamed
    last = {"annotations": message["annotations"], "sources": message["sources"]}
    yield chunk(last, "stop", sources=message["sources"], kb=_extension(final, links))
    yield "data: [DONE]\n\n"
