"""The MCP server: the library as tools for AI clients (Claude Desktop, ChatGPT connectors,
IDE agents), over stdio (`kb mcp`) or streamable HTTP at /mcp inside `kb serve`.

Four read-only tools over the core, returning the shared contracts (ui/contracts.py):
`search` (passages, each also carrying the `id`, `title` and `url` ChatGPT connectors read),
`fetch` (a passage's or a whole document's text by id), `ask` (the cited answer) and
`list_documents`. Who may see what is decided as in the API: over HTTP by the request's key
(a wrong one was refused with a 401 by the Guard already), over stdio by the key the server
was started with; anonymous callers see public documents only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from kb.answer import answer, composer_for
from kb.compose import Composer
from kb.errors import DocumentNotFound, KBError
from kb.keys import KeyStore
from kb.library import Library
from kb.search import reference
from kb.search import search as search_library
from kb.settings import Settings
from kb.types import Access, Chunk, Document, Reference, SearchFilters
from ui.contracts import (
    MAX_K,
    AskResponse,
    DocumentList,
    DocumentOut,
    Query,
    ReferenceOut,
    SearchResult,
    ask_response,
    search_response,
)
from ui.links import Links

F = TypeVar("F", bound=Callable[..., Any])
_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# The Host/Origin check against DNS rebinding is off: it would refuse the server's own public
# name whenever that differs from KB_BASE_URL (behind a proxy, `--host 0.0.0.0`), and it
# protects nothing here. The tools are read-only and show what /api shows without a key, and
# a key travels in a header that a page rebound to this host cannot read or send for a user.
# Keys and rate limits are checked for /mcp by the Guard, as for /api.
_TRANSPORT = TransportSecuritySettings(enable_dns_rebinding_protection=False)

Passages = Annotated[int, Field(ge=1, le=MAX_K, description="How many passages to return.")]
Filters = Annotated[
    SearchFilters | None,
    Field(description="Only documents of these types, dates and languages (all optional)."),
]


class ConnectorResult(SearchResult):
    """A search result with the fields ChatGPT connectors read at its top level."""

    id: str = Field(description="The passage's id (its chunk_id): pass it to `fetch`.")
    title: str = Field(description="The title of the passage's document.")
    url: str = Field(description="The library's copy of the source, at the passage's page.")


class ConnectorSearch(BaseModel):
    query: str
    results: list[ConnectorResult]


class Fetched(BaseModel):
    """A passage, or a whole document, by id: its text and where it stands."""

    id: str
    kind: Literal["passage", "document"]
    title: str
    text: str = Field(description="The passage, or the document's pages in order.")
    url: str = Field(description="The library's copy of the source (at the passage's page).")
    citation: ReferenceOut = Field(description="How to cite it (a passage's page included).")
    document: DocumentOut
    section: str | None = Field(None, description="The heading a passage stands under.")
    start: int | None = Field(None, description="Offset of a passage in its page text.")
    end: int | None = Field(None, description="End offset of a passage in its page text.")


def _tool_errors(tool: F) -> F:
    """Our errors are written for users: the client gets the message as a tool error."""

    @wraps(tool)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return tool(*args, **kwargs)
        except KBError as e:
            raise ToolError(str(e)) from e

    return wrapper  # type: ignore[return-value]


def build_mcp(
    settings: Settings,
    library: Library,
    keys: KeyStore,
    key: str | None = None,
    composer: Composer | None = None,
) -> MCPServer:
    """The MCP server over `library`. `key` is the caller of a transport without headers
    (stdio); over HTTP each request's own key decides. Answers are written by `composer`
    (the API server's; by default the one the settings ask for)."""
    server: MCPServer = MCPServer(
        "kb",
        title="Publications knowledge base",
        instructions="Search and question a publications library on labour migration. Every "
        "passage and answer comes with its source: cite the title, page and url given.",
        log_level="WARNING",  # the SDK configures the root logger; keep the server's quiet
    )
    links = Links(settings.base_url)
    composer = composer or composer_for(library, settings)

    def access(ctx: Context) -> tuple[Access, ...]:
        headers = ctx.headers
        if headers is None:
            return keys.caller(key).role.access
        # Imported here: over stdio the API server is never loaded (it is over HTTP).
        from ui.api.guard import request_key

        return keys.caller(request_key({k.lower(): v for k, v in headers.items()})).role.access

    @server.tool(annotations=_READ_ONLY)
    @_tool_errors
    def search(
        query: Query, ctx: Context, k: Passages = settings.retrieval.k, filters: Filters = None
    ) -> ConnectorSearch:
        """Find the passages of the library that best match a query (semantic and keyword
        search). Each result has its text, an `id` to `fetch` the passage with, and its
        citation: document title, type, date, page and a url opening the source there."""
        hits = search_library(library, query, settings.retrieval, k, filters, access(ctx))
        response = search_response(query, hits, links)
        return ConnectorSearch(
            query=response.query,
            results=[
                ConnectorResult(
                    **r.model_dump(), id=r.chunk_id, title=r.citation.title, url=r.citation.url
                )
                for r in response.results
            ],
        )

    @server.tool(annotations=_READ_ONLY)
    @_tool_errors
    def fetch(id: str, ctx: Context) -> Fetched:
        """The full text of a passage (an `id` from `search`, or a citation's chunk_id) or of
        a whole document (a doc_id), with its url and citation."""
        caller = access(ctx)
        found = library.chunk(id, caller)
        if found is not None:
            return _passage(library, found.chunk, caller, links)
        try:
            return _document(library, library.document(id, caller), caller, links)
        except DocumentNotFound:
            # The same words for an id that is hidden from the caller as for a made-up one.
            raise ToolError(f"No passage or document with id '{id}' in the library.") from None

    @server.tool(annotations=_READ_ONLY)
    @_tool_errors
    def ask(
        question: Query,
        ctx: Context,
        filters: Filters = None,
        k: Annotated[
            int | None, Field(ge=1, le=MAX_K, description="Passages the answer may draw on.")
        ] = None,
    ) -> AskResponse:
        """Answer a question from the library. The answer marks its sources [n]; each
        citation gives the exact quote, its document, page and url. When the library does not
        answer it, `abstained` is true and `see_also` lists the closest documents."""
        found = answer(
            library,
            question,
            settings.answer,
            settings.retrieval,
            filters,
            access(ctx),
            passages=k,
            composer=composer,
        )
        return ask_response(found, links)

    @server.tool(annotations=_READ_ONLY)
    @_tool_errors
    def list_documents(
        ctx: Context,
        filters: Filters = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> DocumentList:
        """The library's documents, newest first: id, title, type, date, language, pages.
        `total` counts every document the filters keep; page through with limit and offset."""
        docs = library.documents(access(ctx), filters)
        page = docs[offset : offset + limit]
        return DocumentList(documents=[DocumentOut.of(d) for d in page], total=len(docs))

    return server


def _passage(library: Library, chunk: Chunk, access: tuple[Access, ...], links: Links) -> Fetched:
    doc = library.document(chunk.doc_id, access)
    cited = reference(doc, chunk, library.newer_version(doc, access))
    return Fetched(
        id=chunk.chunk_id,
        kind="passage",
        title=doc.title,
        text=chunk.text,
        url=links.file(doc.doc_id, chunk.page),
        citation=ReferenceOut.of(cited, links),
        document=DocumentOut.of(doc),
        section=chunk.section,
        start=chunk.start,
        end=chunk.end,
    )


def _document(library: Library, doc: Document, access: tuple[Access, ...], links: Links) -> Fetched:
    # The stored pages, not the chunks joined: neighbouring chunks overlap.
    pages = library.pages(doc.doc_id, access)
    text = "\n\n".join(
        f"[page {p.number}]\n{p.text}" if p.number is not None else p.text for p in pages
    )
    cited = Reference(
        **doc.model_dump(include={"doc_id", "title", "doc_type", "date"}),
        source=Path(doc.source).name,  # its location stays on the server
        superseded_by=library.newer_version(doc, access),
    )
    return Fetched(
        id=doc.doc_id,
        kind="document",
        title=doc.title,
        text=text,
        url=links.file(doc.doc_id),
        citation=ReferenceOut.of(cited, links),
        document=DocumentOut.of(doc),
    )


class MCPEndpoint:
    """The MCP server as the API server's /mcp: stateless streamable HTTP with JSON
    responses, so any worker answers any request and each request's key counts."""

    def __init__(self, server: MCPServer) -> None:
        self._server = server

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve while the app runs (its lifespan)."""
        # A session manager runs once: each start of the app gets a new one.
        self._server.streamable_http_app(
            stateless_http=True, json_response=True, transport_security=_TRANSPORT
        )
        async with self._server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._server.session_manager.handle_request(scope, receive, send)
