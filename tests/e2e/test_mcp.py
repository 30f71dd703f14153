"""The MCP server through the real `mcp` client: `kb mcp` over stdio, and /mcp of a real
`kb serve` over streamable HTTP, where the key decides what is visible as in the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from ingest.pipeline import IngestReport
from kb.keys import KeyStore, Role
from kb.settings import Settings
from tests.conftest import CITATION_FIELDS, REFERENCE_FIELDS, settings_env, with_members_document
from tests.e2e.serving import ROOT, running_server

pytestmark = pytest.mark.e2e
SECRET_ID = "lmpn-steering-minutes-2025"
SECRET_PHRASE = "Halcyon roster"
MINUTES = f"""# Minutes of the LMPN steering group (members only)

The steering group adopted the {SECRET_PHRASE}: every partner agency names one contact for
seasonal recruitment, and the roster is shared with employers in Porto and Gdansk before the
2026 season.
"""
QUESTION = "What did the pilot projects learn about engaging the private sector?"
TOOLS = {"search", "fetch", "ask", "list_documents"}
SECONDS = 90  # one whole session, model load included, on a busy two-core machine


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """The sample library plus a members-only document, and a member's key."""
    settings = with_members_document(
        tmp_path_factory.mktemp("mcp-members"), SECRET_ID, MINUTES,
        "Minutes of the LMPN steering group", "other", "2025-06-02",
    )  # fmt: skip
    return settings, KeyStore(settings.data_dir).create(Role.member, "mcp member")


@pytest.fixture(scope="module")
def server(
    members: tuple[Settings, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One `kb serve` for the module; the limits high enough for every test's requests."""
    env = {"KB_SERVER__REQUESTS_PER_MINUTE": "10000"}
    with running_server(members[0], tmp_path_factory.mktemp("mcp-server"), env) as url:
        yield url


def stdio(settings: Settings, key: str | None = None) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k != "KB_API_KEY"} | settings_env(settings)
    if key:
        env["KB_API_KEY"] = key
    return StdioServerParameters(
        command=sys.executable, args=["-m", "ui", "mcp"], env=env, cwd=str(ROOT)
    )


@asynccontextmanager
async def connect(
    server: str | StdioServerParameters, key: str | None = None
) -> AsyncIterator[Client]:
    """A client session over stdio (server parameters) or HTTP (the server's address)."""
    if isinstance(server, StdioServerParameters):
        async with Client(server) as client:
            yield client
        return
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=SECONDS) as http,
        Client(streamable_http_client(f"{server}/mcp", http_client=http)) as client,
    ):
        yield client


def session(
    server: str | StdioServerParameters,
    body: Callable[[Client], Awaitable[None]],
    key: str | None = None,
) -> None:
    async def main() -> None:
        with anyio.fail_after(SECONDS):
            async with connect(server, key) as client:
                await body(client)

    anyio.run(main)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult) and not result.is_error, result.content
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    """The message of a tool error (the call itself answers; the tool reports the error)."""
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult) and result.is_error
    return " ".join(getattr(c, "text", "") for c in result.content)


async def check_tools(client: Client) -> None:
    """What every transport offers: the four tools, answering with citations."""
    listed = await client.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    assert all(t.annotations and t.annotations.read_only_hint for t in listed.tools)

    found = await call(client, "search", query="engaging the private sector", k=3)
    results = found["results"]
    assert len(results) == 3
    for r in results:
        # The ChatGPT connector fields at the top, the shared search contract beside them.
        assert r["id"] == r["chunk_id"] and r["title"] == r["citation"]["title"]
        assert r["url"] == r["citation"]["url"]
        assert r["url"].startswith("http") and "/api/documents/" in r["url"]
        assert set(r["citation"]) == REFERENCE_FIELDS
    passage = await call(client, "fetch", id=results[0]["id"])
    assert passage["kind"] == "passage" and passage["text"] == results[0]["text"]
    assert passage["url"] == results[0]["url"] and passage["citation"] == results[0]["citation"]

    document = await call(client, "fetch", id=results[0]["citation"]["doc_id"])
    assert document["kind"] == "document" and results[0]["text"] in document["text"]
    assert document["document"]["doc_id"] == results[0]["citation"]["doc_id"]
    assert "No passage or document with id 'no-such-id'" in await refused(
        client, "fetch", id="no-such-id"
    )

    answered = await call(client, "ask", question=QUESTION)
    assert not answered["abstained"] and answered["citations"]
    for c in answered["citations"]:
        assert set(c) == CITATION_FIELDS and f"[{c['n']}]" in answered["answer"]
        source = await call(client, "fetch", id=c["chunk_id"])
        # The quote is the passage's own text, at the offsets the citation gives.
        offset = source["start"]
        assert source["text"][c["start"] - offset : c["end"] - offset] == c["quote"]

    everything = await call(client, "list_documents", limit=200)
    briefs = await call(client, "list_documents", filters={"doc_type": ["policy_brief"]})
    assert 0 < briefs["total"] < everything["total"]
    assert {d["doc_type"] for d in briefs["documents"]} == {"policy_brief"}
    assert "date_from must not be after date_to" in await refused(
        client, "search", query="visa", filters={"date_from": "2025-01-01", "date_to": "2024-01-01"}
    )


def test_stdio_tools_search_fetch_ask_and_list(
    sample: tuple[Settings, IngestReport, Path],
) -> None:
    session(stdio(sample[0]), check_tools)


def test_http_tools_search_fetch_ask_and_list(server: str) -> None:
    session(server, check_tools)


async def _visible(client: Client) -> tuple[set[str], set[str], bool]:
    """What the caller sees of the members-only document: in search, in the listing, by id."""
    found = await call(client, "search", query=SECRET_PHRASE, k=20)
    listed = await call(client, "list_documents", limit=200)
    fetched = await client.call_tool("fetch", {"id": SECRET_ID})
    assert isinstance(fetched, CallToolResult)
    return (
        {r["citation"]["doc_id"] for r in found["results"]},
        {d["doc_id"] for d in listed["documents"]},
        not fetched.is_error,
    )


def test_http_members_documents_need_a_member_key(
    server: str, members: tuple[Settings, str]
) -> None:
    async def anonymous(client: Client) -> None:
        found, listed, fetched = await _visible(client)
        assert SECRET_ID not in found and SECRET_ID not in listed and not fetched
        # A hidden document is refused in the same words as one that does not exist.
        hidden = await refused(client, "fetch", id=SECRET_ID)
        assert hidden == (await refused(client, "fetch", id="no-such-id")).replace(
            "no-such-id", SECRET_ID
        )
        answered = await call(client, "ask", question=f"What is the {SECRET_PHRASE}?")
        assert SECRET_ID not in {c["doc_id"] for c in answered["citations"]}
        assert "Porto" not in answered["answer"]

    async def member(client: Client) -> None:
        found, listed, fetched = await _visible(client)
        assert SECRET_ID in found and SECRET_ID in listed and fetched
        minutes = await call(client, "fetch", id=SECRET_ID)
        assert SECRET_PHRASE in minutes["text"] and minutes["citation"]["doc_id"] == SECRET_ID

    session(server, anonymous)
    session(server, member, key=members[1])


def test_stdio_key_decides_too(members: tuple[Settings, str]) -> None:
    async def member(client: Client) -> None:
        found, listed, fetched = await _visible(client)
        assert SECRET_ID in found and SECRET_ID in listed and fetched

    session(stdio(members[0], key=members[1]), member)


def test_http_wrong_key_is_refused(server: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    request = urllib.request.Request(
        f"{server}/mcp",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": "Bearer kb_not-a-real-key",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refusal:
        urllib.request.urlopen(request, timeout=30)
    assert refusal.value.code == 401
    assert json.loads(refusal.value.read()) == {"detail": "Unknown API key."}

    async def nothing(client: Client) -> None:
        raise AssertionError("a wrong key must not get a session")

    # The real client: no session opens (the SDK reports the 401 as an error response).
    with pytest.raises(BaseExceptionGroup) as failure:
        session(server, nothing, key="kb_not-a-real-key")
    assert failure.group_contains(MCPError, match="error response", depth=None)


def test_stdio_wrong_key_stops_the_server(members: tuple[Settings, str]) -> None:
    parameters = stdio(members[0], key="kb_not-a-real-key")
    done = subprocess.run(
        [parameters.command, *parameters.args],
        env=parameters.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SECONDS,
    )
    assert done.returncode != 0 and "Unknown API key" in done.stderr and done.stdout == ""
