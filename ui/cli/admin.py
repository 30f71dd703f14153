"""Commands for whoever runs the server: back up and restore the library."""

from __future__ import annotations

from pathlib import Path

import click

from kb.settings import Settings
from ui.cli.common import user_errors


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.pass_obj
@user_errors
def backup(settings: Settings, target: Path) -> None:
    """Copy the library (store, index, keys, briefs) into TARGET, a new folder. The server
    keeps answering; writers wait until the copy is done."""
    from tqdm import tqdm

    from kb.backup import backup as make_backup

    with tqdm(unit="doc", desc="backing up", disable=None) as bar:
        manifest = make_backup(settings, target, bar.update)
    click.echo(
        f"Backed up {manifest['documents']} documents ({manifest['chunks']} passages) into {target}"
    )


@click.command()
@click.argument("source", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--replace", is_flag=True, help="Replace the library the settings point at.")
@click.pass_obj
@user_errors
def restore(settings: Settings, source: Path, replace: bool) -> None:
    """Make the library the one backed up in SOURCE (stop the server first)."""
    from tqdm import tqdm

    from kb.backup import restore as restore_backup

    with tqdm(unit="doc", desc="restoring", disable=None) as bar:
        manifest = restore_backup(settings, source, replace, bar.update)
    click.echo(
        f"Restored {manifest['documents']} documents from {source} "
        f"(backed up {manifest['created']})"
    )
