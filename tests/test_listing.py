import datetime as dt
import re
from pathlib import Path

from ingest.catalogue import read_catalogue, write_entry
from ingest.clean import CleanStats
from ingest.listing import is_listing, split_listing
from ingest.parse import read_file
from ingest.prepare import FileTask, build_documents
from kb.settings import Settings
from kb.types import DocType, Document, ParsedDocument
from tests.conftest import CORPUS

NEWS = (CORPUS / "mpf-labour-migration-news.txt").read_text()
NETWORK = (CORPUS / "lmpn-network-page.txt").read_text()


def test_listing_pages_are_recognised_and_ordinary_documents_are_not() -> None:
    assert is_listing(NEWS) and is_listing(NETWORK)
    assert not is_listing((CORPUS / "mpf-policy-brief-pilot-projects-2020.txt").read_text())
    assert not is_listing("12 May 2020\n\nOne dated note is not a listing.")


def test_each_dated_item_becomes_a_document_with_its_own_date_and_title() -> None:
    items = split_listing(NEWS)
    assert len(items) == 25
    first = items[0]
    assert first.date == dt.date(2025, 1, 30)
    assert "WAFIRA" in first.text and "30 January 2025" not in first.text
    assert items[-1].date == dt.date(2019, 12, 2)
    conference = next(i for i in items if i.date == dt.date(2024, 6, 12))
    assert conference.title == "EU LMPN In-Person Conference"


def test_a_teaser_repeated_before_its_body_is_dropped() -> None:
    item = next(i for i in split_listing(NEWS) if i.date == dt.date(2024, 7, 1))
    assert not item.text.startswith("•")
    assert item.text.count("Call for Proposals - Migration Partnerships") == 1


def test_an_item_on_both_pages_has_one_key_and_page_only_items_differ() -> None:
    news = {i.key for i in split_listing(NEWS)}
    network = {i.key for i in split_listing(NETWORK)}
    assert len(news & network) == 3
    assert len(network - news) == 3


def test_generic_first_lines_do_not_become_titles() -> None:
    item = next(i for i in split_listing(NETWORK) if i.date == dt.date(2022, 1, 24))
    assert item.title == "Engaging the private sector is crucial for labour mobility projects"


# Through the real pipeline (read, clean, split, with the folder's catalogue): what the
# library stores for each item.
def _parsed(path: Path, settings: Settings) -> list[ParsedDocument]:
    task = FileTask(path.parent, path, "digest", read_catalogue(path.parent))
    return build_documents(task, read_file(path, settings.parsing), settings, CleanStats())


def _items(settings: Settings) -> list[tuple[Document, str]]:
    """Every item of both listing pages, with the item's text."""
    return [
        (parsed.document, parsed.pages[0].text)
        for name in ("mpf-labour-migration-news.txt", "lmpn-network-page.txt")
        for parsed in _parsed(CORPUS / name, settings)
    ]


def test_item_titles_have_no_run_together_words(settings: Settings) -> None:
    titles = [doc.title for doc, _ in _items(settings)]
    # "UpdatedCall", "ICMPD’sVienna"; camel-case names with one lower-case letter ("MGSoG")
    # are allowed.
    assert [t for t in titles if re.search(r"[a-z]{2}[A-Z][a-z]{2}|[’']s[A-Z]", t)] == []
    assert any(t.startswith("Updated Call for Proposals - Migration") for t in titles)


def test_item_titles_are_short_and_marked_only_where_cut(settings: Settings) -> None:
    for doc, text in _items(settings):
        title = doc.title
        assert len(title) <= 91, title
        # Headline, sentence or clause, word for word (a dropped opener capitalises the rest).
        assert title.removesuffix("…")[1:] in text, title
        if title.endswith("…"):
            last = title[:-1].split()[-1]
            assert re.search(rf"(?<!\w){re.escape(last)}(?!\w)", text), f"cut word: {title}"
            assert last.lower() not in {"a", "an", "the", "of", "and", "in", "on", "to"}, title


def test_a_headline_line_is_the_title_and_a_long_sentence_loses_its_opener(
    settings: Settings,
) -> None:
    titles = {doc.title for doc, _ in _items(settings)}
    assert "Mapping Labour Migration Pathways in the EU 2023 -2024" in titles  # not sentence one
    assert "The headlines are filled with news of labour shortages" in titles  # a whole clause
    assert "On January 25th, the MPF held the LMPN’s Kick-off Meeting" in titles  # short enough
    assert (
        "Speakers from legal firms, multinational companies, and the European Commission provided…"
        in titles  # "At a recent expert panel held during ICMPD’s Vienna Migration Conference, "
    )


def test_membership_and_about_items_are_pages_and_dated_news_is_news(settings: Settings) -> None:
    types = {doc.title: doc.doc_type for doc, _ in _items(settings)}
    membership = next(t for t in types if t.startswith("The EU LMPN is open to practitioners"))
    assert types[membership] is DocType.page
    assert types["Projects on Labour Migration and Mobility"] is DocType.page
    assert types["On January 25th, the MPF held the LMPN’s Kick-off Meeting"] is DocType.news
    assert list(types.values()).count(DocType.page) == 2


def test_items_do_not_take_the_listing_address_as_their_own(
    tmp_path: Path, settings: Settings
) -> None:
    news = tmp_path / "news.txt"
    news.write_text(NEWS, encoding="utf-8")
    write_entry(tmp_path, "news.txt", {"doc_type": "news", "url": "https://example.org/news"})
    docs = [parsed.document for parsed in _parsed(news, settings)]
    assert len(docs) == 25 and all(d.url is None for d in docs)
