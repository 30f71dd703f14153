"""A library you can trust with any file: hostile input, sync, removal, locking, crashes."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest.pipeline import IngestReport, run, write_lock
from kb.errors import IndexBusy
from kb.library import Library
from kb.settings import ParsingSettings, Settings
from kb.types import MEMBERS
from tests.conftest import EVAL_PDFS, make_settings
from tests.helpers import find
from tests.pdfmaker import make_pdf

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
GOOD_TEXT = (
    "Seasonal workers must receive a written contract before they travel to the host country."
)


def _good_pdf(path: Path, pages: int = 3) -> Path:
    return make_pdf(
        path, [[f"Section {n}", GOOD_TEXT, f"Detail {n} on wages."] for n in range(pages)]
    )


def _failures(report: IngestReport) -> dict[str, str]:
    return {Path(f.path).name: f.reason for f in report.failed}


def _encrypted(source: Path, target: Path, password: str) -> Path:
    writer = PdfWriter(clone_from=source)
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="RC4-128")
    with target.open("wb") as f:
        writer.write(f)
    return target


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A folder of broken, odd and good files, built here."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    good = _good_pdf(folder / "good report.pdf")
    (folder / "zero.pdf").write_bytes(b"")
    data = good.read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 2])
    garbled = bytearray(_good_pdf(tmp_path / "long.pdf", pages=20).read_bytes())
    middle = len(garbled) // 2
    garbled[middle : middle + 400] = random.Random(7).randbytes(400)
    (folder / "garbage in the middle.pdf").write_bytes(bytes(garbled))
    _encrypted(good, folder / "open-encrypted.pdf", "")
    _encrypted(good, folder / "locked.pdf", "secret")
    make_pdf(folder / "scanned.pdf", [[], [], []])
    (folder / "not-a-pdf.pdf").write_text("<html>an error page saved as PDF</html>")
    html = (
        '<html><head><meta charset="iso-8859-1"><title>x</title></head><body>'
        "<h1>Anerkennung für Pflegekräfte</h1><p>Die Anerkennung dauert höchstens drei Monate.</p>"
        "</body></html>"
    )
    (folder / "wrong-charset.html").write_bytes(html.encode("utf-8"))
    (folder / "latin1 notes.txt").write_bytes(
        "Saisonarbeit in Österreich: Verträge über fünf Monate.".encode("latin-1")
    )
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    (folder / "it's “quoted” – ünïcode.md").write_text(
        "# Circular migration\n\nWorkers return home between seasons.\n"
    )
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    (folder / "sub").mkdir()
    (folder / "sub" / "back-to-top").symlink_to(folder, target_is_directory=True)
    return folder


def test_every_bad_file_is_reported_by_name_and_the_rest_goes_in(
    settings: Settings, hostile: Path
) -> None:
    report = run([hostile], settings, progress=False)
    failed = _failures(report)
    assert failed["zero.pdf"] == "empty file (0 bytes)"
    assert "damaged PDF" in failed["truncated.pdf"]
    assert failed["locked.pdf"] == "encrypted PDF that needs a password"
    assert failed["scanned.pdf"] == "no extractable text (scanned?)"
    assert "not a PDF" in failed["not-a-pdf.pdf"]
    assert "symbolic links" in failed["loop-a.txt"] and "symbolic links" in failed["loop-b.txt"]
    assert report.skipped == 1  # slides.pptx, quietly
    library = Library(settings)
    ids = {d.doc_id for d in library.documents(MEMBERS)}
    assert {"good-report", "open-encrypted", "wrong-charset", "latin1-notes"} <= ids
    assert any(i.startswith("it-s-quoted") for i in ids)
    # 400 random bytes inside one page's content stream: pypdf reads around the damage, so
    # the file goes in with the pages it could read (19 of 20, one of them empty).
    assert "garbage in the middle.pdf" not in failed
    garbled = "\n".join(p.text for p in library.pages("garbage-in-the-middle", MEMBERS))
    assert "Detail 0 on wages." in garbled and "Detail 19 on wages." in garbled
    assert "für Pflegekräfte" in library.pages("wrong-charset", MEMBERS)[0].text
    assert "Verträge über fünf Monate" in library.pages("latin1-notes", MEMBERS)[0].text
    assert find(library, "written contract before travel", k=3)[0].citation.doc_id in ids


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"max_pages": 40}, "50 pages, over the limit of 40"),
        ({"max_file_mb": 0.001}, "over the 0.001 MB limit"),
        ({"max_seconds_per_file": 0.0001}, "parsing took over"),
    ],
)
def test_limits_on_pages_size_and_time(
    tmp_path: Path, limits: dict[str, float], reason: str
) -> None:
    settings = make_settings(tmp_path, parsing=ParsingSettings(**limits))  # type: ignore[arg-type]
    folder = tmp_path / "big"
    folder.mkdir()
    make_pdf(folder / "many near-empty pages.pdf", [[f"p{n}"] for n in range(50)])
    report = run([folder], settings, progress=False)
    assert reason in _failures(report)["many near-empty pages.pdf"]


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root reads any file: permission denied cannot happen"
)
def test_an_unreadable_file_is_reported(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    secret = folder / "secret.txt"
    secret.write_text("A note nobody may read.")
    secret.chmod(0)
    report = run([folder], settings, progress=False)
    assert _failures(report)["secret.txt"] == "permission denied"


def test_sync_adds_replaces_prunes_and_removes(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "a.md").write_text("# Pensions\n\nPension rights stay portable across the EU.\n")
    (folder / "b.md").write_text("# Visas\n\nVisa processing times hinder mobility.\n")
    (folder / "c.md").write_text("# Language\n\nLanguage barriers remain for migrant workers.\n")
    first = run([folder], settings, progress=False)
    assert sorted(first.added) == ["a", "b", "c"]
    (folder / "b.md").write_text("# Visas\n\nDigital visa procedures shorten waiting times.\n")
    (folder / "c.md").unlink()
    second = run([folder], settings, progress=False, prune_missing=True)
    assert second.unchanged == 1 and second.updated == ["b"] and second.removed == ["c"]
    from ingest.pipeline import remove

    assert remove(str(folder / "a.md"), settings) == ["a"]
    assert remove("b", settings) == ["b"]
    assert Library(settings).documents(MEMBERS) == []


def test_reindex_reads_unchanged_files_again_without_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "a.md").write_text(
        "# Network\n\nThe Labour Migration Practitioners' Network (LMPN) met.\n\n"
        "Later the LMPN published its outputs as short videos.\n"
    )
    (folder / "b.md").write_text("# Visas\n\nVisa processing times hinder mobility.\n")
    run([folder], settings, progress=False)

    def state() -> tuple[list[str], list[str]]:
        library = Library(settings)
        chunks = sorted(c.chunk.chunk_id for c in library.chunks())
        return sorted(d.doc_id for d in library.documents(MEMBERS)), chunks

    before = state()
    assert before[0] == ["a", "b"] and len(before[1]) >= 2
    again = run([folder], settings, progress=False, reindex=True)
    assert again.unchanged == 0 and sorted(again.updated) == ["a", "b"]
    assert state() == before  # same documents, same chunk ids, each once
    assert run([folder], settings, progress=False).unchanged == 2


def test_a_changed_catalogue_row_updates_metadata_without_reembedding(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "brief.md").write_text("# Brief\n\nEmployers fund training in partner countries.\n")
    header = "path,title,doc_type,date,url,language,access\n"
    (folder / "catalogue.csv").write_text(
        header + "brief.md,Old title,study,2020-01-01,,en,public\n"
    )
    run([folder], settings, progress=False)
    (folder / "catalogue.csv").write_text(
        header + "brief.md,New title,policy_brief,2021-05-05,,en,public\n"
    )
    report = run([folder], settings, progress=False)
    assert report.unchanged == 1 and report.updated == ["brief"] and report.chunks == 0
    library = Library(settings)
    doc = library.document("brief", MEMBERS)
    assert (doc.title, doc.doc_type.value, doc.date.isoformat()) == (
        "New title",
        "policy_brief",
        "2021-05-05",
    )
    hit = find(library, "employers fund training", k=1)[0]
    assert hit.citation.title == "New title" and hit.citation.doc_type.value == "policy_brief"


def test_one_writer_at_a_time(settings: Settings, tmp_path: Path) -> None:
    with write_lock(settings.data_dir), pytest.raises(IndexBusy, match="Another `kb ingest`"):
        run([tmp_path], settings, progress=False)


def test_a_running_library_sees_new_documents_without_restart(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "first.md").write_text(
        "# First\n\nCircular migration schemes for seasonal workers.\n"
    )
    run([folder], settings, progress=False)
    serving = Library(settings)
    assert [d.doc_id for d in serving.documents(MEMBERS)] == ["first"]
    (folder / "second.md").write_text(
        "# Second\n\nSkills partnerships with vocational schools in Morocco.\n"
    )
    run([folder], settings, progress=False)
    time.sleep(1.1)  # the library checks for changes at most once a second
    assert {d.doc_id for d in serving.documents(MEMBERS)} == {"first", "second"}
    assert find(serving, "vocational schools Morocco", k=1)[0].citation.doc_id == "second"


def test_an_index_of_another_release_is_rebuilt_and_old_snapshots_go(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "first.md").write_text("# First\n\nCircular migration schemes.\n")
    run([folder], settings, progress=False)
    # What an earlier release left: its pickled snapshots, and an index of another format.
    legacy = settings.data_dir / "snapshot" / "v4-gen-3-k1-0.9-b-0.4"
    legacy.mkdir(parents=True)
    (legacy / "index.pkl").write_bytes(b"not a snapshot of this release")
    with sqlite3.connect(settings.data_dir / "index" / "manifest.sqlite") as db:
        db.execute("UPDATE state SET value = '0' WHERE key = 'format'")
    hits = find(Library(settings), "circular migration", k=1)
    assert hits[0].citation.doc_id == "first"
    assert not (settings.data_dir / "snapshot").exists()
    with sqlite3.connect(settings.data_dir / "index" / "manifest.sqlite") as db:
        assert db.execute("SELECT value FROM state WHERE key = 'format'").fetchone() == ("1",)


def _ingest_process(data_dir: Path, folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KB_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "ui", "ingest", str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _state(data_dir: Path) -> tuple[set[str], list[str]]:
    library = Library(Settings(data_dir=data_dir))
    chunk_ids = [c.chunk.chunk_id for c in library.chunks()]
    return {d.doc_id for d in library.documents(MEMBERS)}, sorted(chunk_ids)


@pytest.mark.skipif(not EVAL_PDFS.is_dir(), reason="../shared/eval-data/pdfs is not present")
def test_sigkill_mid_ingest_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    # Real PDFs and a kill at whatever point the run has reached once its first document is
    # committed (tests/e2e/test_crash.py kills inside a document's write window exactly).
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in (
        "coe_ets005_convention_1950.pdf",
        "de_bmwk_eu_blue_card_qa.pdf",
        "de_iw_checklist_non_eu_professionals.pdf",
        "de_opportunity_card_brochure.pdf",
        "de_shortage_occupations_18g.pdf",
    ):
        shutil.copy(EVAL_PDFS / name, folder / name)
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    process = _ingest_process(crashed, folder)
    deadline = time.monotonic() + 300
    while not (crashed / "chroma").exists() or Library(Settings(data_dir=crashed)).generation() < 1:
        assert process.poll() is None and time.monotonic() < deadline, "no document went in"
        time.sleep(0.2)
    assert process.poll() is None, "the ingest finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    rerun = _ingest_process(crashed, folder)
    assert rerun.wait(timeout=600) == 0
    assert _ingest_process(clean, folder).wait(timeout=600) == 0
    crashed_docs, crashed_chunks = _state(crashed)
    clean_docs, clean_chunks = _state(clean)
    assert crashed_docs == clean_docs and len(clean_docs) == 5
    assert crashed_chunks == clean_chunks
    assert len(set(crashed_chunks)) == len(crashed_chunks)


def test_two_files_with_one_document_id_are_reported_not_merged(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "report.md").write_text("# Report\n\nSeasonal work permits for nine months.\n")
    (folder / "report.txt").write_text("Language courses up to level B1 for newcomers.\n")
    report = run([folder], settings, progress=False)
    assert report.added == ["report"]
    assert "document id 'report' is taken" in _failures(report)["report.txt"]
