import datetime as dt

from ingest.listing import is_listing, split_listing
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
