"""The evidence viewer: a quote highlighted where it stands, on real PDFs (a three-column
notice, hyphenated line ends, ligatures) and in text documents and listing items; the
characters under each highlight are read back and compared with the quote."""

from __future__ import annotations

import difflib
import html as html_text
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import IngestReport, run
from kb.evidence import _letters, pdf_highlight
from kb.keys import KeyStore, Role
from kb.library import Library
from kb.settings import ServerSettings, Settings
from kb.text import split_sentences
from kb.types import MEMBERS
from tests.conftest import EVAL_PDFS, make_settings
from tests.e2e.serving import CHROMIUM, CHROMIUM_ARGS, running_server
from ui.api import create_app

pytestmark = pytest.mark.e2e
PDFS = {
    "us_federal_register_2020-17221.pdf": "three columns, footnotes before the body on page 2",
    "de_bmwk_fast_track_skilled_workers_2024.pdf": "hyphenated line ends and ligatures",
}
MEMBERS_ONLY = "de-bmwk-fast-track-skilled-workers-2024"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def pdf_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Library]:
    if not EVAL_PDFS.is_dir():
        pytest.skip(f"the evaluation PDFs are not here ({EVAL_PDFS})")
    tmp = tmp_path_factory.mktemp("viewer")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for name in PDFS:
        shutil.copy(EVAL_PDFS / name, corpus / name)
    (corpus / "catalogue.csv").write_text(
        "path,title,doc_type,date,url,language,access\n"
        "de_bmwk_fast_track_skilled_workers_2024.pdf,Fast track for skilled workers,guidance,"
        "2024-03-01,,en,members\n"
    )
    settings = make_settings(tmp)
    assert run([corpus], settings, progress=False).failed == []
    return settings, Library(settings)


def _similarity(quote: str, marked: str) -> float:
    wanted, got = _letters(quote)[0], _letters(marked)[0]
    return difflib.SequenceMatcher(None, wanted, got, autojunk=False).ratio()


def _sentences(library: Library, doc_id: str) -> Iterator[tuple[int, str]]:
    """Every sentence of eight words or more of a document's cleaned pages."""
    for page in library.pages(doc_id, MEMBERS):
        for start, end in split_sentences(page.text):
            if len(page.text[start:end].split()) >= 8:
                yield page.number or 1, page.text[start:end]


@pytest.mark.parametrize("name", list(PDFS))
def test_every_sentence_highlights_its_own_characters(
    pdf_library: tuple[Settings, Library], name: str
) -> None:
    library = pdf_library[1]
    doc = next(d for d in library.documents(MEMBERS) if Path(d.source).name == name)
    scores = [
        _similarity(quote, pdf_highlight(Path(doc.source), number, quote).marked_text)
        for number, quote in _sentences(library, doc.doc_id)
    ]
    assert len(scores) > 100
    assert min(scores) >= 0.95, f"{PDFS[name]}: worst read-back {min(scores):.3f}"
    assert sum(scores) / len(scores) >= 0.99


def _repaired_words(path: Path) -> Iterator[tuple[int, str]]:
    """(page, word) for words the PDF breaks with a hyphen at a line end, or spells with a
    ligature character, as pypdf reads them (what the cleaner repairs)."""
    from pypdf import PdfReader

    for number, page in enumerate(PdfReader(path).pages, start=1):
        raw = page.extract_text() or ""
        for m in re.finditer(r"([a-z]{3,})-\s*\n\s*([a-z]{3,})", raw):
            yield number, m.group(1) + m.group(2)
        for m in re.finditer(r"\w*[\ufb00-\ufb06]\w*", raw):
            yield number, m.group().replace("\ufb01", "fi").replace("\ufb02", "fl")


def test_hyphen_and_ligature_repairs_still_highlight(pdf_library: tuple[Settings, Library]) -> None:
    library = pdf_library[1]
    doc = library.document(MEMBERS_ONLY, MEMBERS)
    pages = {p.number: p.text for p in library.pages(doc.doc_id, MEMBERS)}
    checked = 0
    for number, word in _repaired_words(Path(doc.source)):
        text = pages.get(number, "")
        for start, end in split_sentences(text):
            quote = text[start:end]
            if word in quote and len(quote.split()) >= 6:
                marked = pdf_highlight(Path(doc.source), number, quote).marked_text
                assert _similarity(quote, marked) >= 0.97, (word, quote)
                checked += 1
    assert checked >= 5  # the brochure has such words: the check ran on them


@pytest.fixture(scope="module")
def pdf_client(pdf_library: tuple[Settings, Library]) -> TestClient:
    settings, library = pdf_library
    return TestClient(create_app(_unlimited(settings), library, with_chat=False))


def test_a_citations_view_url_shows_the_page_with_the_quote_marked(
    pdf_client: TestClient,
) -> None:
    body = pdf_client.post(
        "/api/ask", json={"question": "What does the interim final rule change for employers?"}
    ).json()
    citation = body["citations"][0]
    assert (
        citation["view_url"].endswith("#quote")
        and f"page={citation['page']}" in citation["view_url"]
    )
    response = pdf_client.get(citation["view_url"].removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert html.count('class="mark"') >= 1 and 'id="quote"' in html
    assert "data:image/png;base64," in html and f"page {citation['page']} of " in html
    assert "<script" not in html


def test_members_only_pages_need_a_key_or_a_signed_link(
    pdf_library: tuple[Settings, Library], pdf_client: TestClient
) -> None:
    view = f"/api/documents/{MEMBERS_ONLY}/view?page=2"
    assert pdf_client.get(view).status_code == 404
    keys = KeyStore(pdf_library[0].data_dir)
    member = keys.create(Role.member, "viewer member")
    assert pdf_client.get(view, headers={"Authorization": f"Bearer {member}"}).status_code == 200
    signed = pdf_client.get(f"{view}&token={keys.sign_link(MEMBERS_ONLY)}")
    assert signed.status_code == 200
    # The page's links to its neighbours carry the signature on.
    assert "token=" in signed.text.split("<nav>")[1]
    assert pdf_client.get(f"{view}&token=forged").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["page=999", "page=2&start=50&end=10", "page=2&start=0&end=999999", "page=0", "start=-1"],
)
def test_views_outside_the_document_are_refused(pdf_client: TestClient, query: str) -> None:
    response = pdf_client.get(f"/api/documents/us-federal-register-2020-17221/view?{query}")
    assert response.status_code == 422 and response.json()["detail"]


def _unlimited(settings: Settings) -> Settings:
    """The session's library is shared by many modules' clients: their requests share one
    address's rate count in its data directory, which these tests are not about."""
    server = ServerSettings(requests_per_minute=100_000, requests_per_minute_with_key=100_000)
    return settings.model_copy(update={"server": server})


@pytest.fixture(scope="module")
def client(sample: tuple[Settings, IngestReport, Path], library: Library) -> TestClient:
    return TestClient(create_app(_unlimited(sample[0]), library, with_chat=False))


def _hit(client: TestClient, query: str, doc_type: str) -> dict[str, Any]:
    results = client.post(
        "/api/search", json={"query": query, "k": 3, "filters": {"doc_type": [doc_type]}}
    ).json()["results"]
    assert results
    hit: dict[str, Any] = results[0]
    return hit


def test_a_listing_item_opens_alone_at_its_passage(client: TestClient, library: Library) -> None:
    hit = _hit(client, "call for proposals migration partnerships", "news")
    doc_id = hit["citation"]["doc_id"]
    html = client.get(hit["view_url"].removeprefix("http://127.0.0.1:8000")).text
    marked = re.search(r'<mark id="quote">(.*?)</mark>', html, re.S)
    assert marked is not None
    assert html_text.unescape(marked.group(1)) == hit["text"]
    assert hit["citation"]["date"] in html  # the item's own date
    others = [d for d in library.documents() if d.source == library.document(doc_id).source]
    other_items = [d for d in others if d.doc_id != doc_id]
    assert other_items  # the listing holds other items, and they are not on this page
    for other in other_items[:5]:
        first_words = " ".join(library.pages(other.doc_id)[0].text.split()[:8])
        assert first_words not in html


def test_every_hit_and_citation_carries_a_view_url(client: TestClient) -> None:
    search = client.post("/api/search", json={"query": "skills mobility partnerships"}).json()
    for result in search["results"]:
        assert "/view?" in result["view_url"] and "/view" in result["citation"]["view_url"]
    ask = client.post(
        "/api/ask", json={"question": "What did the pilot projects learn about employers?"}
    ).json()
    for citation in ask["citations"]:
        assert f"start={citation['start']}&end={citation['end']}" in citation["view_url"]


@pytest.fixture(scope="module")
def served(
    pdf_library: tuple[Settings, Library],
    sample: tuple[Settings, IngestReport, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    with (
        running_server(pdf_library[0], tmp_path_factory.mktemp("pdfs")) as pdfs,
        running_server(sample[0], tmp_path_factory.mktemp("texts")) as texts,
    ):
        yield {"pdfs": pdfs, "texts": texts}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_the_viewer_in_a_browser_scrolls_to_the_highlight(
    served: dict[str, str], tmp_path: Path
) -> None:
    """Screenshots of a PDF page and a news item as a reader sees them (kept in docs/ for the
    README when KB_SCREENSHOTS is set)."""
    import json
    import os
    import urllib.request

    from playwright.sync_api import sync_playwright

    def first(url: str, path: str, body: dict[str, Any], field: str) -> str:
        request = urllib.request.Request(
            f"{url}{path}", json.dumps(body).encode(), {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request) as response:
            found: dict[str, Any] = json.load(response)
        return str(found[field][0]["view_url"])

    views = {
        "viewer-pdf": first(
            served["pdfs"], "/api/ask",
            {"question": "What does the interim final rule change for employers?"}, "citations",
        ),
        "viewer-news": first(
            served["texts"], "/api/search",
            {"query": "call for proposals", "k": 1, "filters": {"doc_type": ["news"]}}, "results",
        ),
    }  # fmt: skip
    keep = SCREENSHOTS if os.environ.get("KB_SCREENSHOTS") else tmp_path
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 860})
        for name, url in views.items():
            page.goto(
                url.replace("http://127.0.0.1:8000", served["pdfs" if "pdf" in name else "texts"])
            )
            mark = page.locator("div.mark, mark").first  # a box on a page image, or marked text
            mark.wait_for()
            box = mark.bounding_box()
            assert box is not None and 0 <= box["y"] <= 860  # scrolled to the quote
            page.screenshot(path=str(keep / f"{name}.png"))
        browser.close()
