"""Back up, wipe, restore, same answers: through the real `kb backup` / `kb restore` commands,
on the store the tier runs on (embedded, or the Chroma server with KB_TEST_STORE=server), and
from one kind of store into the other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.pipeline import run
from kb.answer import answer
from kb.keys import KeyStore, Role
from kb.library import Library
from kb.settings import Settings
from kb.types import MEMBERS
from tests.conftest import make_settings, settings_env
from ui.cli import cli

pytestmark = pytest.mark.e2e

FILES = {
    "seasonal.md": "# Seasonal work\n\nSeasonal permits in the pilot last up to nine months.\n",
    "skills.md": "# Skills partnerships\n\nSkills partnerships train welders in Ghana.\n",
}
QUESTIONS = ["How long do seasonal work permits last?", "Where are welders trained?"]


def _answers(settings: Settings) -> list[tuple[str, list[tuple[str, str]]]]:
    library = Library(settings)
    replies = [
        answer(library, q, settings.answer, settings.retrieval, access=MEMBERS) for q in QUESTIONS
    ]
    library.close()  # a restore replaces the files under it
    return [(r.answer, [(c.doc_id, c.quote) for c in r.citations]) for r in replies]


def _wipe(settings: Settings) -> None:
    library = Library(settings)
    for doc in library.stored_documents():
        library.remove_document(doc.doc_id)
    library.close()
    shutil.rmtree(settings.data_dir)


def test_back_up_wipe_restore_gives_the_same_answers(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    settings = make_settings(tmp_path)
    run([folder], settings, progress=False)
    token = KeyStore(settings.data_dir).create(Role.member, "reader")
    before = _answers(settings)
    assert all(citations for _, citations in before)

    runner = CliRunner()
    made = runner.invoke(cli, ["backup", str(tmp_path / "backup")], env=settings_env(settings))
    assert made.exit_code == 0, made.output
    assert "Backed up 2 documents" in made.output
    again = runner.invoke(cli, ["backup", str(tmp_path / "backup")], env=settings_env(settings))
    assert again.exit_code != 0 and "not empty" in again.output

    _wipe(settings)
    assert not settings.data_dir.exists()
    restored = runner.invoke(cli, ["restore", str(tmp_path / "backup")], env=settings_env(settings))
    assert restored.exit_code == 0, restored.output
    assert _answers(settings) == before
    assert KeyStore(settings.data_dir).caller(token).role is Role.member  # keys came back

    refused = runner.invoke(cli, ["restore", str(tmp_path / "backup")], env=settings_env(settings))
    assert refused.exit_code != 0 and "--replace" in refused.output
    replaced = runner.invoke(
        cli, ["restore", "--replace", str(tmp_path / "backup")], env=settings_env(settings)
    )
    assert replaced.exit_code == 0, replaced.output
    assert _answers(settings) == before


def test_a_backup_moves_a_library_into_another_store(tmp_path: Path) -> None:
    """Restored under another collection prefix (another store), the same answers."""
    folder = tmp_path / "library"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    source = make_settings(tmp_path / "source")
    run([folder], source, progress=False)
    before = _answers(source)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["backup", str(tmp_path / "b")], env=settings_env(source)).exit_code == 0
    )
    target = make_settings(tmp_path / "target")
    moved = runner.invoke(cli, ["restore", str(tmp_path / "b")], env=settings_env(target))
    assert moved.exit_code == 0, moved.output
    assert _answers(target) == before
