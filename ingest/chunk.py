"""Pages to chunks: sentence-aware, sized in model tokens, never across pages or documents.

Splitting uses llama-index's SentenceSplitter with the embedder's own tokenizer, so a chunk
never overflows the model's window. Each chunk is an exact substring of its page text and
records its offsets there, its page and its section heading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kb.acronyms import spelled_out
from kb.settings import ChunkingSettings
from kb.types import Chunk, Page

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter

_MIN_CHARS = 20


def make_splitter(
    settings: ChunkingSettings, tokenize: Callable[[str], list[int]]
) -> SentenceSplitter:
    # Imported when a file is split, not when the server starts: llama-index costs an API
    # worker 52 MB and a second of start-up, and workers hand uploads to the fork server.
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=settings.chunk_tokens,
        chunk_overlap=settings.overlap_tokens,
        tokenizer=tokenize,
        paragraph_separator="\n\n",
    )


def chunk_id(doc_id: str, page: int | None, text: str) -> str:
    """Content hash: the same text on the same page of the same document keeps its id."""
    return hashlib.sha1(f"{doc_id}\x00{page}\x00{text}".encode()).hexdigest()[:24]


def chunk_pages(
    doc_id: str,
    pages: Sequence[Page],
    splitter: SentenceSplitter,
    acronyms: dict[str, str] | None = None,
) -> list[Chunk]:
    """Split each page's text; sections carry over from one page to the next. `acronyms` are
    the file's own definitions, spelled out in the chunks that use them bare."""
    chunks: list[Chunk] = []
    section: str | None = None
    seen: set[str] = set()
    for page in pages:
        cursor = 0
        headings = list(page.headings)
        for piece in splitter.split_text(page.text):
            start = page.text.find(piece, cursor)
            if start < 0:  # the splitter trimmed or re-joined text: fall back to the start
                start = page.text.find(piece)
            if start < 0 or len(piece.strip()) < _MIN_CHARS:
                continue
            cursor = start + 1
            # The section is the heading that governs most of the chunk: the last one
            # before its middle.
            while headings and headings[0].offset <= start + len(piece) // 2:
                section = headings.pop(0).text
            cid = chunk_id(doc_id, page.number, piece)
            if cid in seen:
                continue
            seen.add(cid)
            chunks.append(
                Chunk(
                    chunk_id=cid,
                    doc_id=doc_id,
                    text=piece,
                    page=page.number,
                    page_label=page.label,
                    start=start,
                    end=start + len(piece),
                    section=section,
                    aliases=spelled_out(piece, acronyms or {}),
                )
            )
    return chunks
