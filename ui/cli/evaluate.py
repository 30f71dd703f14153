"""`kb eval`: retrieval and answer quality on a BEIR dataset or a gold set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kb.settings import Settings
from ui.cli.common import user_errors


@click.command("eval")
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
    from ui.evaluation import evaluate_beir, evaluate_gold, with_mode

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
        elif name == "by_class":
            for kind, figures in value.items():
                shown = ", ".join(f"{k} {v}" for k, v in figures.items() if v is not None)
                click.echo(f"  {kind:22} {shown}")
        else:
            click.echo(f"{name:24} {value}")
