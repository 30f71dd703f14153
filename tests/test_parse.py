from pathlib import Path

import pytest
from pypdf import PdfReader

from ingest.catalogue import read_catalogue
from ingest.clean import CleanStats
from ingest.parse import decode_text, read_file
from ingest.prepare import FileTask, build_documents
from kb.settings import Settings
from kb.types import Document
from tests.conftest import CORPUS, EVAL_PDFS
from tests.pdfmaker import make_pdf


def test_text_in_a_legacy_encoding_is_decoded() -> None:
    assert decode_text("Qualifikationsanerkennung für Pflegekräfte".encode("cp1252")) == (
        "Qualifikationsanerkennung für Pflegekräfte"
    )


def _document(path: Path, settings: Settings) -> Document:
    task = FileTask(path.parent, path, "digest", read_catalogue(path.parent))
    raw = read_file(path, settings.parsing)
    (parsed,) = build_documents(task, raw, settings, CleanStats())
    return parsed.document


def test_a_pdf_reports_its_physical_pages_and_a_text_file_none(
    tmp_path: Path, settings: Settings
) -> None:
    lines = ["Eligibility for the EU Blue Card depends on a binding job offer."]
    pdf = make_pdf(tmp_path / "three.pdf", [lines, lines, lines])
    assert _document(pdf, settings).pages == 3
    text = CORPUS / "mpf-policy-brief-pilot-projects-2020.txt"
    assert _document(text, settings).pages == 0


def test_a_real_pdf_reports_the_pages_it_has(settings: Settings) -> None:
    path = EVAL_PDFS / "de_opportunity_card_brochure.pdf"
    if not path.is_file():
        pytest.skip(f"the evaluation PDFs are not here ({EVAL_PDFS})")
    assert _document(path, settings).pages == len(PdfReader(path).pages) == 11
