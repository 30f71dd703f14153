"""The JSON API end to end: FastAPI's TestClient over the sample library in a real Chroma."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import IngestReport
from kb.library import Library
from kb.settings import Settings
from tests.conftest import CITATION_FIELDS, REFERENCE_FIELDS, RESULT_FIELDS
from ui.api import create_app

pytestmark = pytest.mark.e2e
BRIEF = "mpf-policy-brief-pilot-projects-2020"


@pytest.fixture(scope="module")
def client(sample: tuple[Settings, IngestReport, Path], library: Library) -> TestClient:
    with TestClient(create_app(sample[0], library)) as client:
        yield client  # type: ignore[misc]


def test_health_counts_the_library(
    client: TestClient, sample: tuple[Settings, IngestReport, Path]
) -> None:
    body = client.get("/api/health").json()
    assert body.pop("worker") == os.getpid()  # the test client runs the app in this process
    assert body.pop("index_version") > 0
    assert body == {
        "status": "ok",
        "documents": 31,
        "chunks": sample[1].chunks,
        "embedder": "all-MiniLM-L6-v2-int8-per-channel",
    }


def test_search_returns_cited_passages(client: TestClient) -> None:
    response = client.post(
        "/api/search", json={"query": "engaging the private sector in pilot projects", "k": 3}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "engaging the private sector in pilot projects"
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) == RESULT_FIELDS
    assert set(first["citation"]) == REFERENCE_FIELDS
    assert first["citation"]["url"].endswith(f"/api/documents/{first['citation']['doc_id']}/file")


def test_search_filters_really_filter(client: TestClient) -> None:
    body = client.post(
        "/api/search",
        json={
            "query": "labour migration",
            "k": 20,
            "filters": {"doc_type": ["news"], "date_from": "2024-01-01", "date_to": "2024-12-31"},
        },
    ).json()
    assert body["results"]
    for result in body["results"]:
        assert result["citation"]["doc_type"] == "news"
        assert result["citation"]["date"].startswith("2024-")
    none = client.post(
        "/api/search", json={"query": "labour migration", "filters": {"language": ["de"]}}
    )
    assert none.json()["results"] == []


def test_ask_answers_with_verbatim_quotes(client: TestClient, library: Library) -> None:
    body = client.post(
        "/api/ask",
        json={"question": "What did the pilot projects learn about engaging the private sector?"},
    ).json()
    assert body["abstained"] is False
    assert any(c["doc_id"] == BRIEF for c in body["citations"])
    for c in body["citations"]:
        assert set(c) == CITATION_FIELDS
        (page,) = [p for p in library.pages(c["doc_id"]) if p.number == c["page"]]
        assert page.text[c["start"] : c["end"]] == c["quote"]


def test_ask_abstains_with_see_also(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "What is the capital of Australia?"}).json()
    assert body["abstained"] is True and body["citations"] == [] and body["see_also"]


def test_documents_list_filters_and_pages(client: TestClient) -> None:
    everything = client.get("/api/documents", params={"limit": 200}).json()
    assert everything["total"] == 31 == len(everything["documents"])
    page = client.get("/api/documents", params={"limit": 10, "offset": 10}).json()
    assert [d["doc_id"] for d in page["documents"]] == [
        d["doc_id"] for d in everything["documents"][10:20]
    ]
    briefs = client.get("/api/documents", params={"doc_type": "policy_brief"}).json()
    assert briefs["total"] == 1 and briefs["documents"][0]["doc_id"] == BRIEF
    dated = client.get("/api/documents", params={"date_from": "2025-01-01"}).json()
    assert dated["total"] == 2 and all(d["date"] >= "2025-01-01" for d in dated["documents"])


def test_one_document_and_its_file(
    client: TestClient, sample: tuple[Settings, IngestReport, Path]
) -> None:
    meta = client.get(f"/api/documents/{BRIEF}").json()
    assert meta["doc_type"] == "policy_brief" and meta["date"] == "2020-11-04"
    response = client.get(f"/api/documents/{BRIEF}/file")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    corpus = sample[2]
    assert response.content == (corpus / "mpf-policy-brief-pilot-projects-2020.txt").read_bytes()


@pytest.mark.parametrize(
    "doc_id", ["nope", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "catalogue"]
)
def test_unknown_documents_and_paths_are_refused(client: TestClient, doc_id: str) -> None:
    assert client.get(f"/api/documents/{doc_id}").status_code == 404
    assert client.get(f"/api/documents/{doc_id}/file").status_code == 404


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/search", {"query": ""}),
        ("/api/search", {"query": "   "}),
        ("/api/search", {"query": "x" * 2001}),
        ("/api/search", {"query": "visa", "k": 0}),
        ("/api/search", {"query": "visa", "k": 51}),
        ("/api/search", {"query": "visa", "filters": {"date_from": "2024-13-01"}}),
        ("/api/search", {"query": "visa", "filters": {"date_from": "yesterday"}}),
        (
            "/api/search",
            {"query": "visa", "filters": {"date_from": "2024-05-01", "date_to": "2024-01-01"}},
        ),
        ("/api/search", {"query": "visa", "filters": {"doc_type": ["novel"]}}),
        ("/api/search", {"query": "visa", "filters": {"colour": "red"}}),
        ("/api/ask", {"question": ""}),
        ("/api/ask", {"question": "visa", "k": 100}),
        ("/api/ask", {}),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(
    client: TestClient, path: str, payload: dict
) -> None:
    response = client.post(path, json=payload)
    assert 400 <= response.status_code < 500
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]


def test_malformed_json_and_bad_query_params_are_4xx(client: TestClient) -> None:
    response = client.post(
        "/api/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert client.get("/api/documents", params={"limit": 0}).status_code == 422
    assert client.get("/api/documents", params={"doc_type": "novel"}).status_code == 422
    assert client.get("/api/documents", params={"date_from": "2024-02-30"}).status_code == 422


def test_root_opens_the_chat(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307) and response.headers["location"] == "/ui/"
    assert client.get("/ui/").status_code == 200


def test_stored_web_pages_cannot_run_scripts_on_this_origin(tmp_path: Path) -> None:
    from ingest.pipeline import run
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "page.html").write_text(
        "<html><body><h1>Visas</h1><p>Visa waiting times fell.</p>"
        "<script>alert(1)</script></body></html>"
    )
    run([folder], settings, progress=False)
    with TestClient(create_app(settings, with_chat=False)) as client:
        response = client.get("/api/documents/page/file")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == "sandbox"
