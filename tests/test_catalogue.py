"""The catalogue.csv beside the files: read, bad rows reported, rows written atomically."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ingest.catalogue import catalogue_for, current_values, read_catalogue, write_entry
from kb.types import Access, DocType
from tests.conftest import CORPUS, ROOT

# Where the sample library's files come from, with what is known of their addresses.
SEEDS_README = ROOT.parent / "shared" / "seeds" / "README.md"

HEADER = "path,title,doc_type,date,url,language,access\n"


def test_rows_become_entries_and_bad_rows_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "catalogue.csv").write_text(
        HEADER
        + "brief.pdf,Pilot projects,policy_brief,2020-11-04,https://x.eu/b,en,members\n"
        + "bad.pdf,Bad,memo,2020-13-01,,,\n"
        + ",no path,,,,,\n"
        + "sub/notes.md,,,,,,\n",
        encoding="utf-8",
    )
    catalogue = read_catalogue(tmp_path)
    entry = catalogue.entry(tmp_path / "brief.pdf")
    assert entry.title == "Pilot projects" and entry.doc_type is DocType.policy_brief
    assert entry.date == dt.date(2020, 11, 4) and entry.access is Access.members
    empty = catalogue.entry(tmp_path / "sub" / "notes.md")
    assert empty.title is None and empty.doc_type is None  # inferred from the file later
    assert catalogue.entry(tmp_path / "unlisted.pdf").title is None
    assert len(catalogue.problems) == 2
    assert (
        "catalogue.csv:3" in catalogue.problems[0] and "doc_type is one of" in catalogue.problems[0]
    )
    assert "no path" in catalogue.problems[1]


def test_a_folder_without_a_catalogue_has_no_entries(tmp_path: Path) -> None:
    assert read_catalogue(tmp_path).entries == {}


def test_writing_a_row_replaces_only_that_row_and_none_deletes_it(tmp_path: Path) -> None:
    write_entry(tmp_path, "a.md", {"title": "A", "doc_type": "news", "access": "public"})
    write_entry(tmp_path, "b.md", {"title": "B"})
    write_entry(tmp_path, "a.md", {"title": "A2", "doc_type": "study"})
    assert current_values(tmp_path, "a.md")["title"] == "A2"
    assert current_values(tmp_path, "a.md")["access"] == ""  # replaced whole, not merged
    write_entry(tmp_path, "b.md", None)
    assert current_values(tmp_path, "b.md") == {}
    assert [p.name for p in tmp_path.iterdir()] == ["catalogue.csv"]  # no temporary files left


def test_the_nearest_catalogue_naming_a_file_is_found(tmp_path: Path) -> None:
    nested = tmp_path / "reports" / "2024"
    nested.mkdir(parents=True)
    (nested / "r.pdf").write_bytes(b"%PDF")
    write_entry(tmp_path, "reports/2024/r.pdf", {"title": "R"})
    assert catalogue_for(nested / "r.pdf") == (tmp_path, "reports/2024/r.pdf")
    (nested / "s.pdf").write_bytes(b"%PDF")
    assert catalogue_for(nested / "s.pdf") == (nested, "s.pdf")


def test_the_sample_catalogue_types_the_network_page_as_a_page() -> None:
    catalogue = read_catalogue(CORPUS)
    assert catalogue.problems == []
    assert catalogue.entry(CORPUS / "lmpn-network-page.txt").doc_type is DocType.page
    assert catalogue.entry(CORPUS / "mpf-labour-migration-news.txt").doc_type is DocType.news


def test_sample_urls_are_empty_or_addresses_the_seeds_record() -> None:
    # A URL is filled only where the seeds' description names it: never guessed.
    known = SEEDS_README.read_text(encoding="utf-8") if SEEDS_README.is_file() else ""
    for rel, entry in read_catalogue(CORPUS).entries.items():
        if entry.url is not None:
            assert re.fullmatch(r"https?://\S+", entry.url), (rel, entry.url)
            assert entry.url in known, f"{rel}: {entry.url} is not in {SEEDS_README}"
