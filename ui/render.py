"""Plain-text rendering of answers, hits and ingest reports for the terminal."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from kb.types import Answer, Hit, Reference
from ui.contracts import reference_label
from ui.links import Links

if TYPE_CHECKING:  # the pipeline's report; importing ingest for a type would load it all
    from ingest.pipeline import IngestReport


def _where(ref: Reference) -> str:
    return f"{ref.title} · {reference_label(ref)}"


def render_answer(answer: Answer, links: Links) -> str:
    lines = [textwrap.fill(answer.answer, 100), ""]
    if answer.notice:
        lines[1:1] = ["", textwrap.fill(f"Note: {answer.notice}", 100)]
    if answer.abstained:
        if answer.see_also:
            lines.append("Closest documents:")
            lines += [
                f"  - {_where(ref)}\n    {links.file(ref.doc_id, ref.page)}"
                for ref in answer.see_also
            ]
        return "\n".join(lines)
    lines.append("Sources:")
    for c in answer.citations:
        lines.append(f"[{c.n}] {_where(c)}")
        lines.append(
            textwrap.fill(f"“{c.quote}”", 100, initial_indent="    ", subsequent_indent="    ")
        )
        lines.append(f"    {links.file(c.doc_id, c.page)}")
    return "\n".join(lines)


def render_hits(hits: list[Hit], links: Links) -> str:
    if not hits:
        return "No passages found."
    blocks = []
    for i, hit in enumerate(hits, start=1):
        text = textwrap.shorten(hit.text, 400, placeholder=" …")
        blocks.append(
            f"{i}. {_where(hit.citation)}  (score {hit.score:.4f})\n"
            + textwrap.fill(text, 100, initial_indent="   ", subsequent_indent="   ")
            + f"\n   {links.file(hit.citation.doc_id, hit.citation.page)}"
        )
    return "\n\n".join(blocks)


def render_report(report: IngestReport) -> str:
    return (
        f"{report.files} files: {len(report.added)} documents added, "
        f"{len(report.updated)} updated, {report.unchanged} files unchanged, "
        f"{len(report.removed)} removed, {report.duplicates} "
        f"duplicate items, {report.skipped} skipped, {len(report.failed)} failed; "
        f"{report.pages} pages, {report.chunks} chunks in {report.seconds:.1f} s"
    )
