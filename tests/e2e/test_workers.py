"""`kb serve --workers 2` as real processes over a real `chroma run`: every worker answers,
an upload through one is seen by all within a second, the rate limit counts for all of them
together, and the chat runs in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ingest.pipeline import run
from kb.keys import KeyStore, Role
from kb.settings import Settings, StoreSettings
from tests.e2e.serving import ROOT, chroma_server, free_port, running_server

pytestmark = pytest.mark.e2e

LIMIT = 40


def _answering_workers(url: str, requests: int) -> set[int]:
    return {httpx.get(f"{url}/api/health").json()["worker"] for _ in range(requests)}


def _wait_for_a_fresh_minute() -> None:
    """Rate limits count per clock minute: start a count early in one."""
    if time.time() % 60 > 35:
        time.sleep(60 - time.time() % 60 + 0.5)


def test_workers_share_the_store_the_index_and_the_limits(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "seasonal.md").write_text(
        "# Seasonal work\n\nSeasonal work permits in the pilot last up to nine months.\n"
    )
    with chroma_server(tmp_path / "chroma") as chroma_port:
        store = StoreSettings(backend="server", port=chroma_port, prefix="workers")
        settings = Settings(data_dir=tmp_path / "data", store=store)
        run([folder], settings, progress=False)
        staff = KeyStore(settings.data_dir).create(Role.staff, "editor")
        env = {
            "KB_STORE__BACKEND": "server",
            "KB_STORE__PORT": str(chroma_port),
            "KB_SERVER__REQUESTS_PER_MINUTE": str(LIMIT),
            "KB_SERVER__REQUESTS_PER_MINUTE_WITH_KEY": "100000",
        }
        chat_port = free_port()
        args = ("--workers", "2", "--chat-port", str(chat_port))
        with running_server(settings, tmp_path, env, args) as url:
            _wait_for_a_fresh_minute()
            # Anonymous requests from this address: one count for both workers.
            codes, answered_by = [], set()
            for _ in range(2 * LIMIT):
                response = httpx.get(f"{url}/api/health")
                codes.append(response.status_code)
                if response.status_code == 200:
                    answered_by.add(response.json()["worker"])
            assert codes.count(200) <= LIMIT and 429 in codes
            assert len(answered_by) == 2

            key = {"Authorization": f"Bearer {staff}"}
            # A key's own allowance; both workers answer (each new connection goes to one).
            workers = {
                httpx.get(f"{url}/api/health", headers=key).json()["worker"] for _ in range(30)
            }
            assert workers == answered_by

            upload = {
                "file": ("skills.md", b"# Skills\n\nSkills partnerships train welders in Ghana.\n")
            }
            form = {"title": "Skills note", "doc_type": "study", "access": "public"}
            created = httpx.post(
                f"{url}/api/documents", files=upload, data=form, headers=key, timeout=60
            )
            assert created.status_code == 201, created.text
            time.sleep(1.0)
            seen = {}
            for _ in range(20):
                health = httpx.get(f"{url}/api/health", headers=key).json()
                seen.setdefault(health["worker"], []).append(health["documents"])
                found = httpx.post(
                    f"{url}/api/search", json={"query": "welders Ghana", "k": 1}, headers=key
                ).json()["results"]
                assert found and found[0]["citation"]["title"] == "Skills note"
            assert seen.keys() == workers and all(n == [2] * len(n) for n in seen.values())

            # The chat is served by a process of its own; /ui on the workers points there.
            moved = httpx.get(f"{url}/ui/", follow_redirects=False)
            assert moved.status_code == 307
            assert moved.headers["location"] == f"http://127.0.0.1:{chat_port}/ui/"
            assert httpx.get(moved.headers["location"]).status_code == 200


def test_several_workers_refuse_the_embedded_store(tmp_path: Path) -> None:
    env = {**os.environ, "KB_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "ui", "serve", "--workers", "2", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Chroma server" in result.stderr and "KB_STORE__BACKEND=server" in result.stderr
