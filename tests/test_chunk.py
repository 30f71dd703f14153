from ingest.chunk import chunk_pages, make_splitter
from ingest.clean import find_headings
from kb.embedder import load_embedder
from kb.settings import ChunkingSettings, EmbedderSettings
from kb.types import Heading, Page
from tests.conftest import CORPUS


def _pages() -> list[Page]:
    from ingest.clean import clean_pages

    text = clean_pages([(CORPUS / "mpf-policy-brief-pilot-projects-2020.txt").read_text()])[0]
    headings = tuple(Heading(offset=o, text=t) for o, t in find_headings(text))
    return [
        Page(number=1, text=text, headings=headings),
        Page(number=2, text="Short page two text about recognition of skills."),
    ]


def test_chunks_are_exact_substrings_within_the_token_budget() -> None:
    embedder = load_embedder(EmbedderSettings())
    settings = ChunkingSettings(chunk_tokens=200, overlap_tokens=32)
    pages = _pages()
    chunks = chunk_pages("brief", pages, make_splitter(settings, embedder.tokenize))
    assert len(chunks) > 20
    for chunk in chunks:
        page = pages[chunk.page - 1]
        assert page.text[chunk.start : chunk.end] == chunk.text
        assert len(embedder.tokenize(chunk.text)) <= 200
    assert chunks[-1].page == 2


def test_sections_follow_the_headings_and_ids_are_stable() -> None:
    embedder = load_embedder(EmbedderSettings())
    splitter = make_splitter(ChunkingSettings(), embedder.tokenize)
    first = chunk_pages("brief", _pages(), splitter)
    again = chunk_pages("brief", _pages(), splitter)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)
    matching = [c for c in first if "matching between companies and candidates" in c.text]
    assert matching and matching[0].section == "The art of matching"
