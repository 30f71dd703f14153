"""What every command shares: our errors as one-line messages, and the filter options.

Kept light on purpose: `kb --help` imports this, so nothing here loads the model, Chroma,
FastAPI, Gradio or llama-index (commands import what they need when they run).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from kb.errors import KBError
from kb.types import DocType

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
    """--type/--from/--to/--language and --json; the command parses them with
    `ui.contracts.filters_from`, as every front-end does."""
    options = [
        click.option(
            "--type",
            "types",
            multiple=True,
            type=click.Choice([t.value for t in DocType]),
            help="Only this document type (repeatable).",
        ),
        click.option("--from", "date_from", help="Dated on or after (YYYY-MM-DD)."),
        click.option("--to", "date_to", help="Dated on or before (YYYY-MM-DD)."),
        click.option(
            "--language", "languages", multiple=True, help="Only this language (repeatable)."
        ),
        click.option("--json", "as_json", is_flag=True, help="Print JSON."),
    ]
    command: Any = func
    for option in reversed(options):
        command = option(command)
    result: F = command
    return result
