"""The `kb` command: ingest, search, ask. Each command builds Settings, calls kb or ingest,
and prints; errors become one-line messages here and nowhere else."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from kb.errors import KBError
from kb.library import MEMBERS, Library
from kb.settings import Settings, load_settings
from kb.types import DocType, SearchFilters
from ui.api.models import ask_response, search_response
from ui.render import render_answer, render_hits

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Our errors are written for users: show the message, not a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KBError as e:
            raise click.ClickException(str(e)) from e

    return wrapper  # type: ignore[return-value]


def filter_options(func: F) -> F:
    """--type/--from/--to/--language, handed to the command as one `filters` argument."""

    @wraps(func)
    def wrapper(
        *args: Any,
        types: tuple[str, ...],
        date_from: dt.datetime | None,
        date_to: dt.datetime | None,
        languages: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        filters = SearchFilters(
            doc_types=tuple(DocType(t) for t in types),
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            languages=languages,
        )
        return func(*args, filters=filters, **kwargs)

    options = [
        click.option(
            "--type",
            "types",
            multiple=True,
            type=click.Choice([t.value for t in DocType]),
            help="Only this document type (repeatable).",
        ),
        click.option(
            "--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Dated on or after."
        ),
        click.option(
            "--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Dated on or before."
        ),
        click.option(
            "--language", "languages", multiple=True, help="Only this language (repeatable)."
        ),
        click.option("--json", "as_json", is_flag=True, help="Print JSON."),
    ]
    command: Any = wrapper
    for option in reversed(options):
        command = option(command)
    result: F = command
    return result


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Search and question a publications library, with cited passages."""
    ctx.obj = load_settings()


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Remove documents whose file is gone from PATHS.")
@click.option(
    "--reindex",
    is_flag=True,
    help="Read and embed unchanged files too (after an upgrade that changes indexing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
@user_errors
def ingest(
    settings: Settings, paths: tuple[Path, ...], prune: bool, reindex: bool, as_json: bool
) -> None:
    """Make the index match PATHS (default: the corpus folder): new files added, changed
    files replaced, unchanged files left alone."""
    from ingest.pipeline import run

    report = run(
        list(paths) or [settings.corpus_dir], settings, prune_missing=prune, reindex=reindex
    )
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        for failure in report.failed:
            click.echo(f"failed: {failure.path}: {failure.reason}", err=True)
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(
            f"{report.files} files: {len(report.added)} documents added, "
            f"{len(report.updated)} updated, {report.unchanged} files unchanged, "
            f"{len(report.removed)} removed, {report.duplicates} "
            f"duplicate items, {report.skipped} skipped, {len(report.failed)} failed; "
            f"{report.pages} pages, {report.chunks} chunks in {report.seconds:.1f} s"
        )
    if report.failed:
        sys.exit(1)


@cli.command()
@click.argument("target")
@click.pass_obj
@user_errors
def remove(settings: Settings, target: str) -> None:
    """Remove a document by DOC_ID, or every document of a file PATH."""
    from ingest.pipeline import remove as remove_documents

    removed = remove_documents(target, settings)
    if not removed:
        raise click.ClickException(f"No document with id or file '{target}' in the library.")
    click.echo(f"removed {len(removed)} document(s): {', '.join(removed)}")


@cli.command()
@click.argument("query")
@click.option("--k", default=None, type=click.IntRange(1, 50), help="Number of passages.")
@filter_options
@click.pass_obj
@user_errors
def search(
    settings: Settings, query: str, k: int | None, filters: SearchFilters, as_json: bool
) -> None:
    """Find the passages that best match QUERY."""
    hits = Library(settings).search(query, k, filters, MEMBERS)
    if as_json:
        click.echo(search_response(query, hits).model_dump_json(indent=2))
    else:
        click.echo(render_hits(hits))


@cli.command()
@click.argument("question")
@filter_options
@click.pass_obj
@user_errors
def ask(settings: Settings, question: str, filters: SearchFilters, as_json: bool) -> None:
    """Answer QUESTION from the library, citing the passages it rests on."""
    answer = Library(settings).answer(question, filters, MEMBERS)
    if as_json:
        click.echo(ask_response(answer).model_dump_json(indent=2))
    else:
        click.echo(render_answer(answer))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
@user_errors
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the JSON API (/api, docs at /docs) and the chat (/ui)."""
    import os

    import uvicorn

    from ui.api import create_app

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if settings.base_url == Settings.model_fields["base_url"].default:
        settings = settings.model_copy(update={"base_url": f"http://{host}:{port}"})
    library = Library(settings)
    library.embedder.embed(["warm-up"])  # load the model before the first request, not during it
    click.echo(f"Serving the library at http://{host}:{port}/ (API docs at /docs)")
    uvicorn.run(create_app(settings, library), host=host, port=port, log_level="warning")


@cli.group()
def keys() -> None:
    """API keys for members, staff and admins (only a hash is stored)."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(["member", "staff", "admin"]))
@click.option("--name", required=True, help="Who or what the key is for.")
@click.pass_obj
@user_errors
def keys_create(settings: Settings, role: str, name: str) -> None:
    """Create a key and print it once."""
    from kb.keys import KeyStore, Role

    key = KeyStore(settings.data_dir).create(Role(role), name)
    click.echo(key)
    click.echo(f"Key for '{name}' ({role}). It is shown only now: store it safely.", err=True)


@keys.command("list")
@click.pass_obj
@user_errors
def keys_list(settings: Settings) -> None:
    """List keys: name, role, created, revoked."""
    from kb.keys import KeyStore

    for info in KeyStore(settings.data_dir).list():
        state = f"revoked {info.revoked:%Y-%m-%d}" if info.revoked else "active"
        click.echo(f"{info.name}\t{info.role.value}\t{info.created:%Y-%m-%d %H:%M}\t{state}")


@keys.command("revoke")
@click.argument("name")
@click.pass_obj
@user_errors
def keys_revoke(settings: Settings, name: str) -> None:
    """Revoke the key called NAME."""
    from kb.keys import KeyStore

    KeyStore(settings.data_dir).revoke(name)
    click.echo(f"revoked '{name}'")


@cli.command("eval")
@click.argument("questions", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--beir",
    "beir_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/).",
)
@click.option("--split", default="test", show_default=True, help="BEIR qrels split.")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "dense", "bm25"]),
    default=None,
    help="Retrievers to use (default: the settings').",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep (and reuse) the BEIR index in this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@user_errors
def evaluate(
    settings: Settings,
    questions: Path | None,
    beir_dir: Path | None,
    split: str,
    mode: str | None,
    keep: Path | None,
    as_json: bool,
) -> None:
    """Measure retrieval: a BEIR dataset (--beir DIR), or a gold set QUESTIONS.jsonl over the
    library."""
    from ingest.evaluation import evaluate_beir, evaluate_gold, with_mode

    if mode:
        settings = with_mode(settings, mode)
    if beir_dir is not None:
        report: Any = evaluate_beir(beir_dir, settings, split, keep)
    elif questions is not None:
        report = evaluate_gold(questions, settings)
    else:
        raise click.UsageError("Give a gold set QUESTIONS.jsonl or --beir DIR.")
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    for name, value in report.model_dump().items():
        if isinstance(value, list):
            for item in value:
                click.echo(f"{name}: {item}")
        else:
            click.echo(f"{name:24} {value}")
