"""Members-only documents and API keys: every endpoint and the chat, probed as anonymous, member,
staff, with a revoked key and with a garbage key."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kb.keys import KeyStore, Role
from kb.library import Library
from kb.settings import ServerSettings, Settings
from tests.conftest import make_settings, with_members_document
from tests.e2e.serving import CHROMIUM, CHROMIUM_ARGS, running_server
from ui.api import create_app

pytestmark = pytest.mark.e2e
SECRET_ID = "lmpn-proceedings-2025"
SECRET_PHRASE = "Zephyrine protocol"
PROCEEDINGS = f"""# Report of proceedings: fourth LMPN conference (members only)

Participants agreed on the {SECRET_PHRASE} for seasonal recruitment: employers in Tallinn and
Valletta share one pre-departure training budget, and the quokka clause lets workers change
employer after ninety days without losing their permit.

The {SECRET_PHRASE} will be piloted in 2026 with three recruitment agencies and reviewed by the
network's working group on ethical recruitment before any wider roll-out.
"""


@pytest.fixture(scope="module")
def members_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    settings = with_members_document(
        tmp_path_factory.mktemp("members"), SECRET_ID, PROCEEDINGS,
        "Report of proceedings: fourth LMPN conference", "conference_report", "2025-11-20",
    )  # fmt: skip
    keys = KeyStore(settings.data_dir)
    tokens = {
        role: keys.create(Role(role), f"test {role}") for role in ("member", "staff", "admin")
    }
    tokens["revoked"] = keys.create(Role.member, "former member")
    keys.revoke("former member")
    tokens["garbage"] = "kb_not-a-real-key"
    return settings, tokens


@pytest.fixture(scope="module")
def client(members_library: tuple[Settings, dict[str, str]]) -> Iterator[TestClient]:
    settings = members_library[0].model_copy(
        update={"server": ServerSettings(requests_per_minute=10_000)}
    )
    with TestClient(create_app(settings, Library(settings), with_chat=False)) as client:
        yield client


def _auth(tokens: dict[str, str], who: str, header: str = "bearer") -> dict[str, str]:
    if who == "anonymous":
        return {}
    if header == "bearer":
        return {"Authorization": f"Bearer {tokens[who]}"}
    return {"X-API-Key": tokens[who]}


def _doc_ids(results: list[dict]) -> set[str]:
    return {r["citation"]["doc_id"] for r in results}


def test_anonymous_search_never_sees_members_passages_and_still_gets_k(client: TestClient) -> None:
    for payload in (
        {"query": SECRET_PHRASE, "k": 50},
        {"query": f"{SECRET_PHRASE} seasonal recruitment quokka clause", "k": 8},
        {"query": SECRET_PHRASE, "k": 50, "filters": {"doc_type": ["conference_report"]}},
        {"query": SECRET_PHRASE, "k": 20, "filters": {"date_from": "2025-01-01"}},
    ):
        results = client.post("/api/search", json=payload).json()["results"]
        assert SECRET_ID not in _doc_ids(results)
        assert all("Zephyrine" not in r["text"] and "quokka" not in r["text"] for r in results)
    results = client.post("/api/search", json={"query": SECRET_PHRASE, "k": 50}).json()["results"]
    assert len(results) == 50


@pytest.mark.parametrize("who", ["member", "staff", "admin"])
@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_members_staff_and_admins_see_members_documents(
    client: TestClient, members_library: tuple[Settings, dict[str, str]], who: str, header: str
) -> None:
    auth = _auth(members_library[1], who, header)
    results = client.post(
        "/api/search", json={"query": SECRET_PHRASE, "k": 5}, headers=auth
    ).json()["results"]
    assert results[0]["citation"]["doc_id"] == SECRET_ID
    assert client.get(f"/api/documents/{SECRET_ID}", headers=auth).status_code == 200
    assert (
        client.get(f"/api/documents/{SECRET_ID}/file", headers=auth).content == PROCEEDINGS.encode()
    )
    assert client.get("/api/whoami", headers=auth).json() == {"role": who, "name": f"test {who}"}


def test_ask_hides_members_documents_from_anonymous(
    client: TestClient, members_library: tuple[Settings, dict[str, str]]
) -> None:
    question = {
        "question": f"What did participants agree in the {SECRET_PHRASE} on seasonal recruitment?"
    }
    anonymous = client.post("/api/ask", json=question).json()
    cited = {c["doc_id"] for c in anonymous["citations"]} | {
        r["doc_id"] for r in anonymous["see_also"]
    }
    assert SECRET_ID not in cited
    # The passages anonymous may see never mention the protocol: it is told so, in its own
    # words, and learns nothing of the members-only text.
    assert anonymous["abstained"] and "“Zephyrine”" in anonymous["answer"]
    assert not any(w in anonymous["answer"] for w in ("Tallinn", "Valletta", "quokka", "budget"))
    member = client.post(
        "/api/ask", json=question, headers=_auth(members_library[1], "member")
    ).json()
    assert not member["abstained"] and member["citations"][0]["doc_id"] == SECRET_ID


def test_documents_list_metadata_and_file_hide_members_documents(
    client: TestClient, members_library: tuple[Settings, dict[str, str]]
) -> None:
    for params in (
        {"limit": 200},
        {"doc_type": "conference_report"},
        {"date_from": "2025-11-01"},
        {"limit": 5, "offset": 0},
        {"limit": 5, "offset": 30},
    ):
        body = client.get("/api/documents", params=params).json()
        assert SECRET_ID not in {d["doc_id"] for d in body["documents"]}
    assert client.get("/api/documents", params={"limit": 200}).json()["total"] == 31
    member = _auth(members_library[1], "member")
    assert client.get("/api/documents", params={"limit": 200}, headers=member).json()["total"] == 32
    # Its existence is not revealed: the same 404 as a document that does not exist.
    for path in (f"/api/documents/{SECRET_ID}", f"/api/documents/{SECRET_ID}/file"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == client.get(path.replace(SECRET_ID, "no-such-doc")).json() | {
            "detail": response.json()["detail"]
        }


@pytest.mark.parametrize("who", ["revoked", "garbage"])
@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_bad_keys_are_refused_not_downgraded(
    client: TestClient, members_library: tuple[Settings, dict[str, str]], who: str, header: str
) -> None:
    auth = _auth(members_library[1], who, header)
    for method, path, body in (
        ("post", "/api/search", {"query": "visa"}),
        ("post", "/api/ask", {"question": "visa?"}),
        ("get", "/api/documents", None),
        ("get", f"/api/documents/{SECRET_ID}", None),
        ("get", "/api/documents/mpf-policy-brief-pilot-projects-2020/file", None),
    ):
        response = client.request(method, path, json=body, headers=auth)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"


def test_staff_upload_reclassify_and_delete(
    client: TestClient, members_library: tuple[Settings, dict[str, str]]
) -> None:
    tokens = members_library[1]
    upload = {
        "file": (
            "Pension portability note.md",
            b"# Pensions\n\nThe Obsidian accord keeps pension rights portable for returnees.\n",
            "text/markdown",
        )
    }
    form = {
        "title": "Pension portability note",
        "doc_type": "study",
        "date": "2025-06-01",
        "access": "members",
    }
    for who, status in (("anonymous", 401), ("member", 403)):
        assert (
            client.post(
                "/api/documents", files=upload, data=form, headers=_auth(tokens, who)
            ).status_code
            == status
        )
    created = client.post("/api/documents", files=upload, data=form, headers=_auth(tokens, "staff"))
    assert created.status_code == 201, created.text
    doc_id = created.json()[0]["doc_id"]
    assert client.post("/api/search", json={"query": "Obsidian accord"}).json()[
        "results"
    ] == [] or doc_id not in _doc_ids(
        client.post("/api/search", json={"query": "Obsidian accord"}).json()["results"]
    )
    member = _auth(tokens, "member")
    assert doc_id in _doc_ids(
        client.post("/api/search", json={"query": "Obsidian accord"}, headers=member).json()[
            "results"
        ]
    )
    # Re-classify as public: anonymous callers now find it; members cannot do this.
    assert (
        client.patch(
            f"/api/documents/{doc_id}", json={"access": "public"}, headers=member
        ).status_code
        == 403
    )
    changed = client.patch(
        f"/api/documents/{doc_id}", json={"access": "public"}, headers=_auth(tokens, "admin")
    )
    assert changed.status_code == 200
    assert client.get(f"/api/documents/{doc_id}").status_code == 200
    assert doc_id in _doc_ids(
        client.post("/api/search", json={"query": "Obsidian accord"}).json()["results"]
    )
    # Delete: refused to members and anonymous, done for staff.
    assert client.delete(f"/api/documents/{doc_id}", headers=member).status_code == 403
    assert client.delete(f"/api/documents/{doc_id}").status_code == 401
    assert (
        client.delete(f"/api/documents/{doc_id}", headers=_auth(tokens, "staff")).status_code == 204
    )
    assert client.get(f"/api/documents/{doc_id}", headers=member).status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("../../etc/passwd", b"root:x:0:0", 422),
        ("tool.exe", b"MZ", 422),
        ("empty.txt", b"", 422),
        ("big.txt", b"x" * (2 * 1024 * 1024), 413),
        ("fake.pdf", b"not a pdf", 422),
    ],
)
def test_uploads_are_checked(
    members_library: tuple[Settings, dict[str, str]], name: str, content: bytes, status: int
) -> None:
    settings = members_library[0].model_copy(update={"server": ServerSettings(max_upload_mb=1)})
    with TestClient(create_app(settings, Library(settings), with_chat=False)) as client:
        response = client.post(
            "/api/documents",
            files={"file": (name, content)},
            headers=_auth(members_library[1], "staff"),
        )
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    uploads = settings.data_dir / "uploads"
    assert not uploads.exists() or [p.name for p in uploads.iterdir() if p.suffix != ".csv"] == []


def test_signed_file_links_open_one_document_for_a_while(
    client: TestClient, members_library: tuple[Settings, dict[str, str]]
) -> None:
    keys = KeyStore(members_library[0].data_dir)
    token = keys.sign_link(SECRET_ID)
    path = f"/api/documents/{SECRET_ID}/file"
    assert client.get(path, params={"token": token}).content == PROCEEDINGS.encode()
    assert client.get(path).status_code == 404
    tampered = token[:-1] + ("1" if token.endswith("0") else "0")
    assert client.get(path, params={"token": tampered}).status_code == 404
    assert (
        client.get(path, params={"token": keys.sign_link(SECRET_ID, seconds=-1)}).status_code == 404
    )
    other = "/api/documents/mpf-policy-brief-pilot-projects-2020/file"
    assert client.get(path.replace(SECRET_ID, "x"), params={"token": token}).status_code == 404
    assert client.get(other, params={"token": token}).status_code == 200  # public anyway


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, server=ServerSettings(requests_per_minute=3))
    with TestClient(create_app(settings, with_chat=False)) as client:
        statuses = [client.get("/api/whoami").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        response = client.get("/api/whoami")
        assert (
            1 <= int(response.headers["retry-after"]) <= 61
            and "Too many requests" in response.json()["detail"]
        )


def test_the_chat_shows_members_documents_only_after_sign_in(
    members_library: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    question = f"What did participants agree in the {SECRET_PHRASE}?"
    with running_server(members_library[0], tmp_path) as url, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        page = context.new_page()
        page.goto(f"{url}/ui/")

        def ask() -> str:
            box = page.locator("#question textarea")
            box.wait_for(timeout=30_000)
            before = page.locator("#chat .message").count()
            box.fill(question)
            page.locator("#ask").click()
            # This question's answer, not the last one's: one more message, nothing pending.
            page.wait_for_function(
                "() => { const c = document.querySelector('#citations').innerText;"
                f" return document.querySelectorAll('#chat .message').length > {before}"
                " && !c.includes('Citations appear here') && !c.includes('processing'); }",
                timeout=60_000,
            )
            page.wait_for_timeout(500)
            return page.locator("#citations").inner_text()

        anonymous = ask()
        assert "Report of proceedings" not in anonymous and "Zephyrine" not in anonymous
        page.get_by_role("tab", name="Library").click()
        library = page.locator("#library")
        library.get_by_text("Pilot Projects on Legal Migration").first.wait_for(timeout=30_000)
        assert "Report of proceedings" not in library.inner_text()
        page.locator("#api-key input").fill(members_library[1]["member"])
        page.locator("#sign-in").click()
        page.locator("#role").get_by_text("test member").wait_for(timeout=30_000)
        library.get_by_text("Report of proceedings").first.wait_for(timeout=30_000)
        page.get_by_role("tab", name="Ask").click()
        ask()
        # The answer's sources follow its message; under load they may land a moment later.
        page.locator("#citations").get_by_text("Report of proceedings").first.wait_for(
            timeout=60_000
        )
        # Its link carries a signed token: the browser follows it without any API key.
        link = page.locator(f"#citations a[href*='/api/documents/{SECRET_ID}/file']").first
        href = link.get_attribute("href")
        assert href and "token=" in href
        with urllib.request.urlopen(f"{url}{href.split('#')[0]}") as response:
            assert response.read() == PROCEEDINGS.encode()
        page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)
        context.close()


def test_made_up_keys_do_not_escape_the_address_limit(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, server=ServerSettings(requests_per_minute=3, requests_per_minute_with_key=3)
    )
    with TestClient(create_app(settings, with_chat=False)) as client:
        statuses = [
            client.get("/api/whoami", headers={"X-API-Key": f"kb_made-up-{i}"}).status_code
            for i in range(5)
        ]
    assert statuses == [401, 401, 401, 429, 429]


def test_odd_tokens_and_listing_items_are_refused_cleanly(
    client: TestClient, members_library: tuple[Settings, dict[str, str]]
) -> None:
    path = f"/api/documents/{SECRET_ID}/file"
    for token in ("²", "9" * 40, "", "1.2.3", "abc.def"):
        assert client.get(path, params={"token": token}).status_code == 404
    item = next(
        d["doc_id"]
        for d in client.get("/api/documents", params={"limit": 200}).json()["documents"]
        if d["doc_id"].startswith("item-")
    )
    response = client.patch(
        f"/api/documents/{item}",
        json={"access": "members"},
        headers=_auth(members_library[1], "staff"),
    )
    assert response.status_code == 400 and "listing page" in response.json()["detail"]
