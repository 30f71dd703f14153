"""Titles when the catalogue gives none: metadata if it is a title, else the cover's type."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.parse import read_pdf
from ingest.titles import useful_title
from kb.settings import ParsingSettings
from tests.pdfmaker import make_pdf


@pytest.mark.parametrize(
    "noise",
    [
        "wp251rev_en",
        "2024_Visum_Blaue_Karte_EN",
        "PowerPoint-Präsentation",
        "Publications Office",
        "Authors",
        "REGULATIONS",
        "C/2023/1392",
        "r e f u g e e s",
        "Microsoft Word - brief.docx",
        "report.pdf",
        "",
        None,
    ],
)
def test_producer_noise_file_names_and_numbers_are_not_titles(noise: str | None) -> None:
    assert useful_title(noise) is None


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        (
            "Questions and answers\n about the  EU Blue Card",
            "Questions and answers about the EU Blue Card",
        ),
        ("Print Health and Care Worker visa - GOV.UK", "Health and Care Worker visa - GOV.UK"),
        ("Print Media Act 2020", "Print Media Act 2020"),
        (
            "CHARTER OF FUNDAMENTAL RIGHTS OF THE EUROPEAN UNION",
            "Charter of Fundamental Rights of the European Union",
        ),
        (
            "ARTICLE 29 DATA PROTECTION WORKING PARTY (WP)",
            "Article 29 Data Protection Working Party (WP)",
        ),
    ],
)
def test_titles_are_tidied(raw: str, title: str) -> None:
    assert useful_title(raw) == title


def test_a_long_title_is_cut_at_a_word() -> None:
    raw = "Regulation establishing the criteria " * 10
    title = useful_title(raw)
    assert title is not None and len(title) <= 161 and title.endswith("…")
    kept = title[:-1]
    assert raw.startswith(kept) and raw[len(kept)] == " "  # cut between words


def _read(path: Path) -> str | None:
    return read_pdf(path, ParsingSettings()).title


def test_the_cover_title_is_the_largest_type(tmp_path: Path) -> None:
    cover = [(10, "C 364/1"), (24, "CHARTER OF FUNDAMENTAL RIGHTS"), (24, "OF THE EUROPEAN UNION")]
    body = ["Article 1", "Human dignity is inviolable. It must be respected and protected."]
    path = make_pdf(tmp_path / "charter.pdf", [cover + body])
    assert _read(path) == "Charter of Fundamental Rights of the European Union"


def test_metadata_titles_come_first_and_noise_falls_through_to_the_cover(tmp_path: Path) -> None:
    pages: list[list[str | tuple[int, str]]] = [[(28, "At a Glance: EU Blue Card"), "1 Apply"]]
    named = make_pdf(tmp_path / "a.pdf", pages, title="The EU Blue Card in brief")
    assert _read(named) == "The EU Blue Card in brief"
    noisy = make_pdf(tmp_path / "b.pdf", pages, title="2024_Visum_Blaue_Karte_EN")
    assert _read(noisy) == "At a Glance: EU Blue Card"


def test_big_numbers_and_one_size_pages_give_no_cover_title(tmp_path: Path) -> None:
    steps = make_pdf(tmp_path / "steps.pdf", [[(50, "1 2 3"), (40, "2024/1347"), "Step one"]])
    assert _read(steps) is None
    plain = make_pdf(tmp_path / "plain.pdf", [["Just body text on one page of a report."]])
    assert _read(plain) is None
