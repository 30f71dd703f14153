"""`kb brief`: briefs kept on this machine for its local user (the CLI has staff rights)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kb.settings import Settings
from ui.cli.common import user_errors

if TYPE_CHECKING:  # the store module is light, but `kb --help` imports nothing it need not
    from kb.briefs import BriefStore

OWNER = "local"  # the CLI's briefs; API briefs belong to their key's name


def _store(settings: Settings) -> BriefStore:
    from kb.briefs import BriefStore

    return BriefStore(settings.data_dir, settings.briefs.max_excerpts)


@click.group()
def brief() -> None:
    """Briefs: collect cited excerpts, then export them (Markdown, DOCX, references)."""


@brief.command("new")
@click.argument("title")
@click.pass_obj
@user_errors
def new(settings: Settings, title: str) -> None:
    """Start a brief called TITLE; prints its id."""
    click.echo(_store(settings).create(OWNER, title.strip() or "Untitled").brief_id)


@brief.command("list")
@click.pass_obj
@user_errors
def list_briefs(settings: Settings) -> None:
    """Your briefs: id, excerpts, title."""
    for item in _store(settings).list(OWNER):
        click.echo(f"{item.brief_id}\t{len(item.excerpts)}\t{item.title}")


@brief.command("add")
@click.argument("brief_id")
@click.option("--chunk", "chunk_id", help="A passage id (with --start and --end).")
@click.option("--start", type=int, help="Offset of the excerpt in the page text.")
@click.option("--end", type=int, help="End offset of the excerpt in the page text.")
@click.option("--doc", "doc_id", help="A document id (with --quote, and --page for PDFs).")
@click.option("--page", type=int, help="The physical page of the quote.")
@click.option("--quote", help="The exact words, as they stand in the document.")
@click.option("--note", default="", help="Your note on the excerpt.")
@click.pass_obj
@user_errors
def add(
    settings: Settings,
    brief_id: str,
    chunk_id: str | None,
    start: int | None,
    end: int | None,
    doc_id: str | None,
    page: int | None,
    quote: str | None,
    note: str,
) -> None:
    """Add an excerpt: a passage span (as `kb ask --json` cites it) or a quote on a page."""
    from kb.briefs import anchor_quote, anchor_span
    from kb.library import Library
    from kb.types import MEMBERS
    from ui.contracts import ExcerptCreate, parse

    request = parse(
        ExcerptCreate,
        chunk_id=chunk_id, start=start, end=end, doc_id=doc_id, page=page, quote=quote, note=note,
    )  # fmt: skip
    library = Library(settings)
    if request.chunk_id is not None and request.start is not None and request.end is not None:
        anchor = anchor_span(library, request.chunk_id, request.start, request.end, MEMBERS)
    else:
        anchor = anchor_quote(
            library, request.doc_id or "", request.page, request.quote or "", MEMBERS
        )
    excerpt = _store(settings).add(OWNER, brief_id, anchor, request.note)
    click.echo(f"added excerpt {excerpt.excerpt_id} at position {excerpt.position}")


@brief.command("show")
@click.argument("brief_id")
@click.pass_obj
@user_errors
def show(settings: Settings, brief_id: str) -> None:
    """A brief's excerpts, each checked against the library now."""
    from kb.briefs import checked_brief
    from kb.library import Library
    from kb.types import MEMBERS

    brief_, checked = checked_brief(Library(settings), _store(settings), OWNER, brief_id, MEMBERS)
    click.echo(brief_.title)
    for check in checked:
        e = check.excerpt
        where = f"{e.doc_id}" + (f", p. {e.page}" if e.page else "")
        state = (
            "" if check.status == "ok" else f" [{check.status}: {check.reason or 're-anchored'}]"
        )
        click.echo(f"{e.position}. “{e.quote}” ({where}){state}")
        if e.note:
            click.echo(f"   note: {e.note}")


@brief.command("export")
@click.argument("brief_id")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "docx", "csl-json", "ris", "bibtex"]), default="md"
)
@click.option("--style", type=click.Choice(["chicago", "apa"]), default=None)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
@click.pass_obj
@user_errors
def export(
    settings: Settings, brief_id: str, fmt: str, style: str | None, output: Path | None
) -> None:
    """Export a brief (every excerpt checked first) to a file or standard output."""
    from kb.briefs import checked_brief
    from kb.library import Library
    from kb.types import MEMBERS
    from ui.exports import export_brief
    from ui.links import Links

    library = Library(settings)
    brief_, checked = checked_brief(library, _store(settings), OWNER, brief_id, MEMBERS)
    data = export_brief(
        fmt,
        brief_,
        checked,
        library.document_map(MEMBERS),
        Links(settings.base_url),
        style or settings.briefs.style,
    )
    if output is not None:
        output.write_bytes(data)
        click.echo(f"wrote {output}", err=True)
    elif fmt == "docx":
        raise click.UsageError("A DOCX goes to a file: add -o brief.docx")
    else:
        sys.stdout.buffer.write(data)
