"""The `kb` command. Each command builds Settings, calls the core or the pipeline, and prints;
errors become one-line messages (ui/cli/common.py) and nowhere else."""

from __future__ import annotations

import click

from kb.settings import load_settings
from ui.cli.admin import backup, restore
from ui.cli.briefs import brief
from ui.cli.evaluate import evaluate
from ui.cli.keys import keys
from ui.cli.library import ask, ingest, remove, search, serve
from ui.cli.mcp import mcp


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Search and question a publications library, with cited passages."""
    ctx.obj = load_settings()


for command in (ingest, remove, search, ask, serve, mcp, keys, brief, evaluate, backup, restore):
    cli.add_command(command)
