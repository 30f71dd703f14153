"""The chat in a real headless Chromium against `kb serve` running as its own process."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport
from kb.settings import Settings
from tests.e2e.serving import CHROMIUM, CHROMIUM_ARGS, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(
    sample: tuple[Settings, IngestReport, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with running_server(sample[0], tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context.new_page()
        context.close()


def test_asking_in_the_chat_shows_cited_passages(server: str, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/")
    question = page.locator("#question textarea")
    question.wait_for(timeout=30_000)
    question.fill("What did the pilot projects learn about engaging the private sector?")
    page.locator("#ask").click()
    citations = page.locator("#citations")
    citations.get_by_text("[1]").first.wait_for(timeout=60_000)
    links = citations.locator("a[href*='/api/documents/']")
    assert links.count() >= 1
    href = links.first.get_attribute("href")
    assert href and href.startswith("/api/documents/")
    assert "Pilot Projects on Legal Migration" in citations.inner_text()
    chat = page.locator("#chat").inner_text()
    # Every quote the chat shows stands in the Sources panel with its marker.
    quotes = citations.locator("blockquote")
    assert quotes.count() >= 1
    for i in range(quotes.count()):
        quote = " ".join(quotes.nth(i).inner_text().split())
        assert quote[:60] in " ".join(chat.split())
    assert f"[{quotes.count()}]" in chat and f"[{quotes.count() + 1}]" not in chat
    # The answer's data (chunk ids, offsets) travels with it for the brief basket to come.
    page.get_by_text("Answer data (JSON").click()
    data = page.locator("#answer-data")
    data.get_by_text("chunk_id").first.wait_for(timeout=10_000)
    assert "start" in data.inner_text() and "quote" in data.inner_text()
    # The link opens the library's copy of the source.
    with urllib.request.urlopen(f"{server}{href.split('#')[0]}") as response:
        assert response.status == 200 and b"Pilot Projects" in response.read()


def test_a_question_the_library_cannot_answer_says_so(server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/ui/")
    question = page.locator("#question textarea")
    question.wait_for(timeout=30_000)
    question.fill("How do I bake sourdough bread?")
    page.locator("#ask").click()
    page.locator("#citations").get_by_text("No passage in the library answers this").wait_for(
        timeout=60_000
    )
    assert "The library holds no passage that answers this" in page.locator("#chat").inner_text()
