"""The OpenAI-compatible endpoints, through the real `openai` client against a real `kb serve`:
answers with their sources where clients read them, plain and streamed, the same keys and
access rules as the API, and errors in OpenAI's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from kb.keys import KeyStore, Role
from kb.settings import ServerSettings
from tests.conftest import make_settings, with_members_document
from tests.e2e.serving import running_server
from tests.e2e.test_access import PROCEEDINGS, SECRET_ID, SECRET_PHRASE
from ui.api import create_app

pytestmark = pytest.mark.e2e
QUESTION = "What did the pilot projects learn about engaging employers?"
SECRET_QUESTION = f"What did participants agree on the {SECRET_PHRASE} for seasonal recruitment?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real `kb serve` over the sample library plus a members-only report; its address and
    a member's key."""
    tmp = tmp_path_factory.mktemp("openai")
    settings = with_members_document(
        tmp, SECRET_ID, PROCEEDINGS, "Report of proceedings", "conference_report", "2025-11-20"
    )
    member = KeyStore(settings.data_dir).create(Role.member, "openai member")
    with running_server(settings, tmp) as url:
        yield url, member


def _client(url: str, key: str = "anonymous") -> openai.OpenAI:
    """The SDK always sends a key: `anonymous` is the one that reads as none."""
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def test_models_lists_the_library(server: tuple[str, str]) -> None:
    assert [m.id for m in _client(server[0]).models.list()] == ["kb-library"]


def test_a_completion_carries_its_sources_as_annotations_and_a_list(
    server: tuple[str, str],
) -> None:
    url, _ = server
    completion = _client(url).chat.completions.create(
        model="kb-library",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi! Ask me about the library."},
            {"role": "user", "content": QUESTION},
        ],
    )
    message = completion.choices[0].message
    assert completion.model == "kb-library" and completion.choices[0].finish_reason == "stop"
    assert message.content and "[1]" in message.content
    sources: list[dict[str, Any]] = (message.model_extra or {})["sources"]
    assert sources and {"quote", "title", "doc_type", "date", "page", "url"} <= set(sources[0])
    annotations = message.annotations or []
    assert len(annotations) == message.content.count("[")
    for annotation in annotations:
        cited = annotation.url_citation
        marker = message.content[cited.start_index : cited.end_index]
        source = sources[int(marker.strip("[]")) - 1]
        assert annotation.type == "url_citation"
        assert (cited.url, cited.title) == (source["url"], source["title"])
        assert cited.url.startswith("http") and "/api/documents/" in cited.url
        assert source["quote"] in message.content  # extractive: the quotes are the answer


def test_a_stream_sends_the_text_then_the_sources(server: tuple[str, str]) -> None:
    client = _client(server[0])
    plain = client.chat.completions.create(
        model="kb-library", messages=[{"role": "user", "content": QUESTION}]
    )
    chunks = list(
        client.chat.completions.create(
            model="kb-library", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain.choices[0].message.content
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    sources = (last.delta.model_extra or {})["sources"]
    assert sources == (plain.choices[0].message.model_extra or {})["sources"]


def test_members_only_answers_need_a_member_key(server: tuple[str, str]) -> None:
    url, member = server
    anonymous = _client(url).chat.completions.with_raw_response.create(
        model="kb-library", messages=[{"role": "user", "content": SECRET_QUESTION}]
    )
    raw = anonymous.http_response.text
    assert SECRET_ID not in raw and "quokka" not in raw and "Tallinn" not in raw
    assert json.loads(raw)["kb"]["abstained"] is True
    completion = _client(url, member).chat.completions.create(
        model="kb-library", messages=[{"role": "user", "content": SECRET_QUESTION}]
    )
    sources = (completion.choices[0].message.model_extra or {})["sources"]
    assert any(s["doc_id"] == SECRET_ID for s in sources)


def test_filters_travel_as_an_extra_field(server: tuple[str, str]) -> None:
    completion = _client(server[0]).chat.completions.create(
        model="kb-library",
        # A question the conference reports answer clearly (the gate's score 1.21, its
        # threshold 1.02): the test is about the filter reaching the search.
        messages=[
            {"role": "user", "content": "How can digitalisation help labour mobility schemes?"}
        ],
        extra_body={"filters": {"doc_type": ["conference_report"]}},
    )
    sources = (completion.choices[0].message.model_extra or {})["sources"]
    assert sources and {s["doc_type"] for s in sources} == {"conference_report"}


def test_errors_come_in_openai_shape(server: tuple[str, str]) -> None:
    url, _ = server
    with pytest.raises(openai.AuthenticationError) as bad_key:
        _client(url, "kb_made-up").chat.completions.create(
            model="kb-library", messages=[{"role": "user", "content": QUESTION}]
        )
    assert bad_key.value.status_code == 401 and "key" in bad_key.value.message.lower()
    with pytest.raises(openai.NotFoundError) as unknown:
        _client(url).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert unknown.value.code == "model_not_found" and "kb-library" in unknown.value.message
    for messages in ([], [{"role": "assistant", "content": "no question"}], [{"role": "x"}]):
        with pytest.raises(openai.BadRequestError) as invalid:
            _client(url).chat.completions.create(model="kb-library", messages=messages)  # type: ignore[arg-type]
        body = invalid.value.body
        assert isinstance(body, dict) and body["type"] == "invalid_request_error"
        assert body["message"]


def test_rate_limits_answer_in_openai_shape(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, server=ServerSettings(requests_per_minute=2))
    client = TestClient(create_app(settings, with_chat=False))
    statuses = [client.get("/v1/models").status_code for _ in range(3)]
    refused = client.get("/v1/models")
    assert statuses == [200, 200, 429] and refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and "Too many requests" in error["message"]
    assert refused.headers["retry-after"]
