"""Commands over the library: ingest, remove, search, ask, serve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kb.settings import Settings
from ui.cli.common import filter_options, user_errors


@click.command()
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
    from ui.render import render_report

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
        click.echo(render_report(report))
    if report.failed:
        sys.exit(1)


@click.command()
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


@click.command()
@click.argument("query")
@click.option("--k", default=None, type=click.IntRange(1, 50), help="Number of passages.")
@filter_options
@click.pass_obj
@user_errors
def search(
    settings: Settings,
    query: str,
    k: int | None,
    types: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    languages: tuple[str, ...],
    as_json: bool,
) -> None:
    """Find the passages that best match QUERY."""
    from kb.library import Library
    from kb.search import search as search_library
    from kb.types import MEMBERS
    from ui.contracts import SearchRequest, filters_from, parse, search_response
    from ui.links import Links
    from ui.render import render_hits

    filters = filters_from(types, date_from, date_to, languages)
    request = parse(SearchRequest, query=query, k=k, filters=filters)
    library = Library(settings)
    hits = search_library(
        library, request.query, settings.retrieval, request.k, request.filters, MEMBERS
    )
    if as_json:
        response = search_response(request.query, hits, Links(settings.base_url))
        click.echo(response.model_dump_json(indent=2))
    else:
        click.echo(render_hits(hits, Links(settings.base_url)))


@click.command()
@click.argument("question")
@filter_options
@click.pass_obj
@user_errors
def ask(
    settings: Settings,
    question: str,
    types: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    languages: tuple[str, ...],
    as_json: bool,
) -> None:
    """Answer QUESTION from the library, citing the passages it rests on."""
    from kb.answer import answer, composer_for
    from kb.library import Library
    from kb.types import MEMBERS
    from ui.contracts import AskRequest, ask_response, filters_from, parse
    from ui.links import Links
    from ui.render import render_answer

    filters = filters_from(types, date_from, date_to, languages)
    request = parse(AskRequest, question=question, filters=filters)
    library = Library(settings)
    composer = composer_for(library, settings)
    reply = answer(
        library,
        request.question,
        settings.answer,
        settings.retrieval,
        request.filters,
        MEMBERS,
        composer=composer,
    )
    if as_json:
        click.echo(ask_response(reply, Links(settings.base_url)).model_dump_json(indent=2))
    else:
        click.echo(render_answer(reply, Links(settings.base_url)))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="API worker processes (more than one needs the Chroma server; the chat then runs "
    "in a process of its own on --chat-port).",
)
@click.option(
    "--chat-port",
    default=0,
    type=click.IntRange(0, 65535),
    help="The chat's port with several workers [default: --port + 1].",
)
@click.pass_obj
@user_errors
def serve(settings: Settings, host: str, port: int, workers: int, chat_port: int) -> None:
    """Serve the JSON API (/api, docs at /docs) and the chat (/ui)."""
    from ui.serving import serve as run_server

    if settings.base_url == Settings.model_fields["base_url"].default:
        settings = settings.model_copy(update={"base_url": f"http://{host}:{port}"})
    click.echo(f"Serving the library at http://{host}:{port}/ (API docs at /docs)")
    run_server(settings, host, port, workers, chat_port)
