"""`kb mcp`: the MCP server over stdin/stdout, for a desktop AI client that starts it."""

from __future__ import annotations

import click

from kb.settings import Settings
from ui.cli.common import user_errors


@click.command()
@click.option(
    "--key",
    envvar="KB_API_KEY",
    default=None,
    help="An API key: its role decides what the client may see (anonymous, public documents "
    "only, without one). Also read from KB_API_KEY.",
)
@click.pass_obj
@user_errors
def mcp(settings: Settings, key: str | None) -> None:
    """Serve the library to an MCP client (Claude Desktop, an IDE agent) over stdio: tools
    search, fetch, ask and list_documents. Over HTTP, `kb serve` offers the same at /mcp."""
    from kb.keys import KeyStore
    from kb.library import Library
    from ui.mcp import build_mcp

    keys = KeyStore(settings.data_dir)
    caller = keys.caller(key)  # a wrong or revoked key stops here, not at the first call
    library = Library(settings)
    library.embed(["warm-up"])  # load the model and open the index before the first call
    library.view()
    # stdout carries the protocol: anything said to a person goes to stderr.
    click.echo(f"kb MCP server on stdio, as {caller.name or caller.role.value}", err=True)
    build_mcp(settings, library, keys, key=key).run("stdio")
