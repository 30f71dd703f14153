"""What a hostile probe of the running server found, each fixed and held here: no 500 from
any input, nothing read before it is allowed, no unlimited route, no unauthenticated upload,
nothing of the members-only library in what anonymous callers get."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import run
from kb.keys import KeyStore, Role
from kb.library import Library
from kb.settings import ParsingSettings, ServerSettings, Settings
from tests.conftest import make_settings
from tests.e2e.serving import running_server
from ui.api import create_app

pytestmark = pytest.mark.e2e
PUBLIC = "# Seasonal work\n\nSeasonal workers in agriculture receive permits for nine months.\n"
MEMBERS_ONLY = "# Referrals\n\nThe Quillback protocol governs confidential referrals of workers.\n"


@pytest.fixture(scope="module")
def library_settings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("hardening")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "seasonal.md").write_text(PUBLIC)
    (corpus / "referrals.md").write_text(MEMBERS_ONLY)
    (corpus / "catalogue.csv").write_text(
        "path,title,doc_type,date,url,language,access\n"
        "seasonal.md,Seasonal work,guidance,2024-03-01,,en,public\n"
        "referrals.md,Referrals,study,2025-01-01,,en,members\n"
    )
    settings = make_settings(
        tmp,
        server=ServerSettings(requests_per_minute=10_000, max_upload_mb=1),
        parsing=ParsingSettings(max_seconds_per_file=1),
    )
    assert run([corpus], settings, progress=False).failed == []
    keys = KeyStore(settings.data_dir)
    tokens = {role: keys.create(Role(role), f"hardening {role}") for role in ("member", "staff")}
    return settings, tokens


@pytest.fixture(scope="module")
def client(library_settings: tuple[Settings, dict[str, str]]) -> Iterator[TestClient]:
    settings = library_settings[0]
    with TestClient(create_app(settings, Library(settings)), raise_server_exceptions=False) as c:
        yield c


def _raw(client: TestClient, path: str, body: bytes) -> tuple[int, dict[str, object]]:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "\\ud800"}',  # a lone surrogate
        b'{"query": "visa", "k": NaN}',
        b'{"query": "visa", "k": Infinity}',
        b'{"query": "visa", "k": -Infinity}',
        b'{"query": "visa", "filters": {"date_from": "\\udfff"}}',
        b'{"query": ["\\ud83d"]}',
    ],
)
def test_odd_json_is_a_4xx_never_a_500(client: TestClient, body: bytes) -> None:
    status, payload = _raw(client, "/api/search", body)
    assert 400 <= status < 500 and payload["detail"]
    json.dumps(payload, allow_nan=False)  # what came back is plain JSON


def test_a_422_echoes_a_few_hundred_characters_not_the_input(client: TestClient) -> None:
    huge = "why " * 10_000  # 40 KB: under the body limit, over the query limit
    response = client.post("/api/search", json={"query": huge})
    assert response.status_code == 422
    assert len(response.content) < 2_000 and "at most 2000 characters" in response.text


def test_bodies_over_the_limit_are_refused_before_parsing(client: TestClient) -> None:
    response = client.post("/api/search", json={"query": "x" * 100_000})
    assert response.status_code == 413 and "KB limit" in response.json()["detail"]


def test_non_ascii_link_tokens_are_a_404(client: TestClient) -> None:
    for token in ("²", "1.ü", "9999999999.é" * 3):
        response = client.get("/api/documents/referrals/file", params={"token": token})
        assert response.status_code == 404


def test_health_counts_only_what_the_caller_may_see(
    client: TestClient, library_settings: tuple[Settings, dict[str, str]]
) -> None:
    anonymous = client.get("/api/health").json()
    member = client.get("/api/health", headers={"X-API-Key": library_settings[1]["member"]}).json()
    assert (anonymous["documents"], member["documents"]) == (1, 2)
    assert 0 < anonymous["chunks"] < member["chunks"]


@pytest.mark.parametrize("header", ["Token {key}", "Basic {key}", "{key}", "Bearer"])
def test_other_authorization_schemes_are_a_401(
    client: TestClient, library_settings: tuple[Settings, dict[str, str]], header: str
) -> None:
    value = header.format(key=library_settings[1]["member"])
    response = client.get("/api/health", headers={"Authorization": value})
    assert response.status_code == 401 and "Bearer" in response.json()["detail"]


def test_upload_names_never_collide_or_pose_as_listing_items(
    client: TestClient, library_settings: tuple[Settings, dict[str, str]]
) -> None:
    staff = {"X-API-Key": library_settings[1]["staff"]}
    first = client.post(
        "/api/documents",
        files={"file": ("note.md", b"# Note\n\nVisa waivers for seasonal staff.\n")},
        headers=staff,
    )
    second = client.post(
        "/api/documents",
        files={"file": ("note.html", b"<h1>Note</h1><p>Blue Card salary thresholds.</p>")},
        headers=staff,
    )
    item = client.post(
        "/api/documents",
        files={"file": ("item-2024-01-01-x.md", b"# Item\n\nPosted workers and their wages.\n")},
        headers=staff,
    )
    seasonal = client.post(
        "/api/documents",
        files={"file": ("seasonal.md", b"# Seasonal again\n\nA second seasonal note.\n")},
        headers=staff,
    )
    for response in (first, second, item, seasonal):
        assert response.status_code == 201, response.text
    ids = [r.json()[0]["doc_id"] for r in (first, second, item, seasonal)]
    assert ids == ["note", "note-2", "upload-item-2024-01-01-x", "seasonal-2"]
    for doc_id in ids:
        assert client.get(f"/api/documents/{doc_id}", headers=staff).status_code == 200


def test_control_characters_never_reach_the_catalogue(
    client: TestClient, library_settings: tuple[Settings, dict[str, str]]
) -> None:
    staff = {"X-API-Key": library_settings[1]["staff"]}
    for title in ("Seasonal\x00work", "Seasonal\nwork", "Seasonal\x7fwork"):
        response = client.patch("/api/documents/seasonal", json={"title": title}, headers=staff)
        assert response.status_code == 422
    catalogue = (library_settings[0].data_dir.parent / "corpus" / "catalogue.csv").read_text()
    assert "\x00" not in catalogue and "Seasonal work," in catalogue


def test_a_decompression_bomb_upload_is_stopped_by_its_time_limit(
    client: TestClient, library_settings: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.pdf"
    subprocess.run(
        [sys.executable, str(Path(__file__).with_name("bomb.py")), str(bomb), "64"], check=True
    )
    assert bomb.stat().st_size < 300_000  # small on the wire, 64 MB of page content inside
    response = client.post(
        "/api/documents",
        files={"file": ("bomb.pdf", bomb.read_bytes(), "application/pdf")},
        headers={"X-API-Key": library_settings[1]["staff"]},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "bomb.pdf: reading it took longer than 1 s"
    uploads = library_settings[0].data_dir / "uploads"
    assert (
        not (uploads / "bomb.pdf").exists()
        and "bomb" not in (uploads / "catalogue.csv").read_text()
    )


def test_the_running_server_limits_the_chat_refuses_its_uploads_and_ignores_forwarded_for(
    library_settings: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings = library_settings[0].model_copy(
        update={"server": ServerSettings(requests_per_minute=6)}
    )
    with running_server(settings, tmp_path, {"KB_SERVER__REQUESTS_PER_MINUTE": "6"}) as url:
        upload = urllib.request.Request(
            f"{url}/ui/gradio_api/upload", data=b"--x--\r\n", method="POST"
        )
        assert _status(upload) == 403
        statuses = []
        for i in range(8):  # each claims another address; the connection's is what counts
            request = urllib.request.Request(
                f"{url}/ui/gradio_api/queue/join",
                data=b"{}",
                headers={"content-type": "application/json", "X-Forwarded-For": f"10.0.0.{i}"},
                method="POST",
            )
            statuses.append(_status(request))
        assert 429 in statuses and statuses.index(429) <= 6  # the health check counted too
        api = urllib.request.Request(f"{url}/api/health", headers={"X-Forwarded-For": "10.9.9.9"})
        assert _status(api) == 429  # one address, one allowance, /api and /ui together


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
