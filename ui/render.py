"""Plain-text rendering of answers, hits and ingest reports for the terminal."""

from __future__ import annotations

import textwrap

from kb.types import Answer, Hit, Reference


def _where(ref: Reference) -> str:
    parts = [ref.title, ref.doc_type.value.replace("_", " ")]
    if ref.date:
        parts.append(ref.date.isoformat())
    if ref.page:
        parts.append(f"p. {ref.page}")
    return " · ".join(parts)


def render_answer(answer: Answer) -> str:
    lines = [textwrap.fill(answer.answer, 100), ""]
    if answer.abstained:
        if answer.see_also:
            lines.append("Closest documents:")
            lines += [f"  - {_where(ref)}\n    {ref.url}" for ref in answer.see_also]
        return "\n".join(lines)
    lines.append("Sources:")
    for c in answer.citations:
        lines.append(f"[{c.n}] {_where(c)}")
        lines.append(
            textwrap.fill(f"“{c.quote}”", 100, initial_indent="    ", subsequent_indent="    ")
        )
        lines.append(f"    {c.url}")
    return "\n".join(lines)


def render_hits(hits: list[Hit]) -> str:
    if not hits:
        return "No passages found."
    blocks = []
    for i, hit in enumerate(hits, start=1):
        text = textwrap.shorten(hit.text, 400, placeholder=" …")
        blocks.append(
            f"{i}. {_where(hit.citation)}  (score {hit.score:.4f})\n"
            + textwrap.fill(text, 100, initial_indent="   ", subsequent_indent="   ")
            + f"\n   {hit.citation.url}"
        )
    return "\n\n".join(blocks)
