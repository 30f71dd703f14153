import pytest

from ingest.parse import _useful_title, decode_text


@pytest.mark.parametrize(
    "noise",
    [
        "wp251rev_en",
        "2024_Visum_Blaue_Karte_EN",
        "PowerPoint-Präsentation",
        "Publications Office",
        "Authors",
        "Microsoft Word - brief.docx",
        "report.pdf",
        "",
        None,
    ],
)
def test_producer_noise_and_file_names_are_not_titles(noise: str | None) -> None:
    assert _useful_title(noise) is None


def test_real_titles_are_kept_with_whitespace_normalised() -> None:
    title = "Questions and answers\n about the  EU Blue Card"
    assert _useful_title(title) == "Questions and answers about the EU Blue Card"


def test_text_in_a_legacy_encoding_is_decoded() -> None:
    assert decode_text("Qualifikationsanerkennung für Pflegekräfte".encode("cp1252")) == (
        "Qualifikationsanerkennung für Pflegekräfte"
    )
