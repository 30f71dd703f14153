"""The chat in a real headless Chromium against `kb serve` running as its own process."""

from __future__ import annotations

import re
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


def test_from_a_question_to_a_downloaded_brief(server: str, page) -> None:  # type: ignore[no-untyped-def]
    import io

    from docx import Document as Docx

    page.goto(f"{server}/ui/")
    question = page.locator("#question textarea")
    question.wait_for(timeout=30_000)
    question.fill("What did the pilot projects learn about engaging the private sector?")
    page.locator("#ask").click()
    picks = page.locator("#cite-pick label")
    picks.first.wait_for(timeout=60_000)
    assert picks.count() >= 2
    cited = [" ".join(picks.nth(i).inner_text().split()) for i in range(2)]
    picks.nth(0).click()
    picks.nth(1).click()
    page.locator("#add-cited").click()
    page.get_by_role("tab", name="Find sources").click()
    page.locator("#query textarea").fill("diaspora and talent partnerships")
    page.locator("#find").click()
    found = page.locator("#found-pick label")
    found.first.wait_for(timeout=60_000)
    found.first.click()
    page.locator("#add-found").click()
    page.get_by_role("tab", name="Brief").click()
    view = page.locator("#brief-view")
    view.locator("li").nth(2).wait_for(timeout=30_000)
    assert view.locator("li").count() == 3
    # The passage from Find sources goes first; a note on the first citation.
    page.locator("#brief-excerpt input").click()
    page.get_by_role("option").nth(2).click()
    third = view.locator("li").nth(2).inner_text()[:30]
    page.locator("#brief-up").click()
    page.wait_for_function(
        "t => document.querySelectorAll('#brief-view li')[1].innerText.startsWith(t)", arg=third
    )
    page.locator("#brief-up").click()
    page.wait_for_function(
        "t => document.querySelectorAll('#brief-view li')[0].innerText.startsWith(t)", arg=third
    )
    page.locator("#brief-excerpt input").click()
    page.get_by_role("option").nth(1).click()
    page.locator("#brief-note textarea").fill("Quote this in the introduction.")
    page.locator("#brief-save-note").click()
    view.get_by_text("Quote this in the introduction.").wait_for(timeout=30_000)
    page.locator("#brief-download").click()
    link = page.locator("#brief-file a[href]").first
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    assert href
    url = href if href.startswith("http") else f"{server}{href}"
    with urllib.request.urlopen(url) as response:
        document = Docx(io.BytesIO(response.read()))
    texts = [" ".join(p.text.split()) for p in document.paragraphs]
    quotes = [t for t in texts if "(" in t and t.endswith(")")]
    assert len(quotes) == 3
    # [1] and [2] of the answer follow the found passage, in their order, the note after [1].
    first_cited = cited[0].split("] ", 1)[1][:40]
    second_cited = cited[1].split("] ", 1)[1][:40]
    assert first_cited in quotes[1] and second_cited in quotes[2]
    assert texts[texts.index(next(t for t in texts if first_cited in t)) + 1] == (
        "Quote this in the introduction."
    )
    assert "References" in texts


def test_one_click_shows_each_quote_marked_on_its_page(server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/ui/")
    question = page.locator("#question textarea")
    question.wait_for(timeout=30_000)
    question.fill("What did the pilot projects learn about engaging the private sector?")
    page.locator("#ask").click()
    quotes = page.locator("#citations blockquote")
    quotes.nth(1).wait_for(timeout=60_000)
    frame = page.frame_locator("#evidence iframe")
    for n in (1, 2):
        page.locator("#evidence-pick label").nth(n - 1).click()
        marked = frame.locator("mark#quote")
        expected = " ".join(quotes.nth(n - 1).inner_text().split())
        page.wait_for_function(
            "([q]) => { const f = document.querySelector('#evidence iframe');"
            " const m = f && f.contentDocument && f.contentDocument.querySelector('mark');"
            " return m && m.innerText.replace(/\\s+/g, ' ').trim() === q; }",
            arg=[expected],
            timeout=30_000,
        )
        assert " ".join(marked.inner_text().split()) == expected
    # Find sources says how much it found and why each passage matched.
    page.get_by_role("tab", name="Find sources").click()
    page.locator("#query textarea").fill("engaging employers")
    page.locator("#find").click()
    sources = page.locator("#sources")
    sources.get_by_text("passages in").first.wait_for(timeout=60_000)
    assert re.search(r"\d+ passages in \d+ documents", sources.inner_text())
    bold = {b.lower() for b in sources.locator("strong").all_inner_texts()}
    assert bold & {"employers", "engaging", "employer", "engage"}
    assert "relevance" in sources.inner_text() and "relevance 0" not in sources.inner_text()
