"""What a file says is shown as text in the chat, never as Markdown or HTML (rendered here
with markdown-it, a CommonMark renderer like the chat's)."""

from __future__ import annotations

import datetime as dt

import pytest
from markdown_it import MarkdownIt

from kb.types import Answer, Citation, DocType, Hit, Reference
from ui.chat import answer_markdown, citations_markdown, md, sources_markdown
from ui.links import Links

CRAFTED = "![tracker](http://evil.example/p.png) <img src=x onerror=alert(1)> [click](javascript:x)"


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).render(markdown)


def _reference(**fields: object) -> Reference:
    values: dict[str, object] = {
        "doc_id": "d",
        "title": CRAFTED,
        "doc_type": DocType.news,
        "date": dt.date(2024, 1, 1),
        "page": 2,
        "page_label": "<b>ii</b>",
        "source": "d.md",
    }
    return Reference.model_validate({**values, **fields})


@pytest.mark.parametrize(
    "markdown",
    [
        citations_markdown(
            Answer(
                question="q",
                answer="a [1]",
                citations=(
                    Citation(
                        n=1,
                        quote=CRAFTED,
                        chunk_id="c",
                        start=0,
                        end=1,
                        **_reference().model_dump(),
                    ),
                ),
            ),
            Links(),
        ),
        citations_markdown(
            Answer(question="q", answer="none", abstained=True, see_also=(_reference(),)), Links()
        ),
        answer_markdown(
            Answer(question="q", answer="none", abstained=True, see_also=(_reference(),))
        ),
        sources_markdown(
            [Hit(text=CRAFTED, score=1.0, citation=_reference(), chunk_id="c", section=CRAFTED)],
            Links(),
        ),
    ],
)
def test_crafted_catalogue_fields_render_as_text(markdown: str) -> None:
    html = _rendered(markdown)
    assert "<img" not in html and "<b>" not in html and "javascript:" not in html.split('"')[1::2]
    assert 'href="http://evil' not in html and "src=" not in html.replace("src=x", "")
    assert "![tracker](http://evil.example/p.png)" in html  # shown, as text


def test_text_keeps_its_words_and_loses_its_line_breaks() -> None:
    assert _rendered(md("# Heading\n\n- item")).strip() == "<p># Heading - item</p>"
