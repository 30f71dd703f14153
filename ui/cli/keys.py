"""`kb keys`: API keys for members, staff and admins."""

from __future__ import annotations

import click

from kb.settings import Settings
from ui.cli.common import user_errors


@click.group()
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
