"""The `kb` command through click's CliRunner: parsing, errors as one-line messages, keys;
and its import stays light (no model, Chroma, FastAPI, Gradio or llama-index for --help)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ui.cli import cli


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_STORE__PREFIX", f"cli{tmp_path.name[-12:]}")
    return CliRunner()


def test_help_imports_nothing_heavy() -> None:
    heavy = ("fastapi", "gradio", "llama_index.core", "chromadb", "onnxruntime", "bm25s")
    code = (
        "import sys, ui.cli; from click.testing import CliRunner; "
        "assert CliRunner().invoke(ui.cli.cli, ['--help']).exit_code == 0; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "remove", "search", "ask", "serve", "keys", "eval"):
        assert f"  {command} " in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-01-01", "--to", "2024-01-01"], "date_from must not be after date_to"),
        (["--from", "31/01/2024"], "date_from: Input should be a valid date"),
        (["--language", "x"], "not a language code"),
    ],
)
def test_bad_filters_are_one_line_messages(
    runner: CliRunner, args: list[str], message: str
) -> None:
    for command in ("search", "ask"):
        result = runner.invoke(cli, [command, "labour migration", *args])
        assert result.exit_code == 1
        assert message in result.output and "Traceback" not in result.output


def test_an_unknown_type_is_refused_by_click(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["search", "x", "--type", "memo"])
    assert result.exit_code == 2 and "'memo' is not one of" in result.output


def test_a_question_over_the_length_limit_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["ask", "why " * 600])
    assert result.exit_code == 1 and "at most 2000 characters" in result.output


def test_an_empty_library_says_how_to_fill_it(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["search", "labour migration"])
    assert result.exit_code == 1
    assert "The library is empty: run `kb ingest` first." in result.output


def test_keys_are_created_listed_and_revoked(runner: CliRunner) -> None:
    created = runner.invoke(cli, ["keys", "create", "--role", "member", "--name", "Jane"])
    assert created.exit_code == 0 and created.output.startswith("kb_")
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.output.startswith("Jane\tmember\t") and "\tactive" in listed.output
    assert runner.invoke(cli, ["keys", "revoke", "Jane"]).exit_code == 0
    assert "revoked 20" in runner.invoke(cli, ["keys", "list"]).output
    again = runner.invoke(cli, ["keys", "revoke", "Jane"])
    assert again.exit_code == 1 and "No active key named 'Jane'" in again.output


def test_eval_needs_a_gold_set_or_a_beir_folder(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["eval"])
    assert result.exit_code == 2 and "Give a gold set" in result.output


def test_remove_of_an_unknown_document_says_so(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["remove", "no-such-doc"])
    assert result.exit_code == 1 and "No document with id or file 'no-such-doc'" in result.output
